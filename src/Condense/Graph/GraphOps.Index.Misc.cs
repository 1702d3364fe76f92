// ONNX CastLike, Size, EyeLike, NonZero, Compress, DepthToSpace and SpaceToDepth (Ops/IndexOps), for every element type.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // CastLike (opset 15): Cast to the element type of the second input, by Cast's rules.
    internal static Tensor CastLike(Node node, Tensor?[] inputs) => TypedOps.Cast(Required(node, inputs, 0), Required(node, inputs, 1).DataType);

    // Size: the element count, an int64 scalar.
    internal static Tensor SizeOf(Node node, Tensor?[] inputs) => Tensor.FromInt64s([Required(node, inputs, 0).Size], DataType.Int64);

    // EyeLike: a 2-D tensor of the input's shape with ones where column − row = k, of the dtype attribute's type
    // (the input's when absent).
    internal static Tensor EyeLike(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        if (x.Rank != 2) throw IndexError(node, $"the input has rank {x.Rank}; EyeLike needs 2");
        var type = node.Attributes.ContainsKey("dtype")
            ? DataTypes.FromOnnxCode(node.Int("dtype", 1)) ?? throw IndexError(node, $"unsupported dtype {node.Int("dtype", 1)}")
            : x.DataType;
        long k = node.Int("k", 0);
        int rows = x.Shape[0], cols = x.Shape[1];
        var map = new int[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) map[i * cols + j] = j - i == k ? 1 : 0;
        return TypedOps.Cast(new Tensor([0f, 1f], 2), type).Take(map, [rows, cols]);
    }

    // NonZero: the coordinates of the non-zero elements, int64 [rank, count] in row-major order (a scalar counts as
    // rank 1, as ONNX Runtime gives).
    internal static Tensor NonZero(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var shape = x.Rank == 0 ? [1] : x.Shape;
        // GetDouble rounds int64 beyond 2^53, but never a non-zero value to zero; NaN counts as non-zero.
        var found = Enumerable.Range(0, x.Size).Where(i => x.GetDouble(i) != 0).ToArray();
        var strides = Shape.Strides(shape);
        var coordinates = new long[shape.Length * found.Length];
        for (int d = 0; d < shape.Length; d++)
            for (int j = 0; j < found.Length; j++) coordinates[d * found.Length + j] = found[j] / strides[d] % shape[d];
        return Tensor.FromInt64s(coordinates, DataType.Int64, shape.Length, found.Length);
    }

    // Compress: the slices along axis (or the elements of the flattened input, without axis) whose condition is true;
    // a condition shorter than the axis drops the rest, a longer one is read up to the axis (as ONNX Runtime does).
    internal static Tensor Compress(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var condition = Required(node, inputs, 1);
        if (condition.DataType != DataType.Bool || condition.Rank != 1) throw IndexError(node, "the condition must be a 1-D bool tensor");
        bool hasAxis = node.Attributes.ContainsKey("axis");
        int axis = hasAxis ? AxisOf(node, node.Int("axis", 0), x.Rank) : 0;
        var view = hasAxis ? x.Shape : [x.Size];
        var (outer, n, inner) = AxisSplit(view, axis);
        var keep = condition.Int64Data.Take(n).Select((c, i) => (c, i)).Where(p => p.c != 0).Select(p => p.i).ToArray();
        var map = new int[outer * keep.Length * inner];
        for (int o = 0, k = 0; o < outer; o++)
            foreach (int l in keep)
                for (int i = 0; i < inner; i++) map[k++] = (o * n + l) * inner + i;
        int[] shape = hasAxis ? [.. x.Shape[..axis], keep.Length, .. x.Shape[(axis + 1)..]] : [keep.Length];
        return x.Take(map, shape);
    }

    // DepthToSpace: [N, C, H, W] → [N, C / b², H·b, W·b]; mode DCR (default) reads the channels as (b, b, C / b²),
    // CRD (opset 11) as (C / b², b, b).
    internal static Tensor DepthToSpace(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        int b = BlockSize(node, x);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (c % (b * b) != 0) throw IndexError(node, $"{c} channels are not a multiple of blocksize² = {b * b}");
        string mode = node.Attributes.TryGetValue("mode", out var m) && m.StringValue is { } s ? s : "DCR";
        var (view, perm) = mode switch
        {
            "DCR" => (new[] { n, b, b, c / (b * b), h, w }, new[] { 0, 3, 4, 1, 5, 2 }),
            "CRD" => (new[] { n, c / (b * b), b, b, h, w }, new[] { 0, 1, 4, 2, 5, 3 }),
            _ => throw IndexError(node, $"unknown mode '{mode}'"),
        };
        return x.Take(IndexMaps.Permute(view, perm), [n, c / (b * b), h * b, w * b]);
    }

    // SpaceToDepth: [N, C, H, W] → [N, C·b², H / b, W / b], the inverse of DepthToSpace in DCR mode.
    internal static Tensor SpaceToDepth(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        int b = BlockSize(node, x);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (h % b != 0 || w % b != 0) throw IndexError(node, $"height {h} and width {w} must be multiples of blocksize {b}");
        var map = IndexMaps.Permute([n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4]);
        return x.Take(map, [n, c * b * b, h / b, w / b]);
    }

    private static int BlockSize(Node node, Tensor x)
    {
        if (x.Rank != 4) throw IndexError(node, $"the input has rank {x.Rank}; 4 ([N, C, H, W]) is needed");
        long b = node.Int("blocksize", 0);
        return b is >= 1 and <= int.MaxValue ? (int)b : throw IndexError(node, $"blocksize {b} must be positive");
    }
}
