// Index-driven data movement for every element type: Take (y[i] = x[source[i]]) is what Slice, Gather,
// Expand, Tile, GatherElements, GatherND, DepthToSpace and their kin compute once the source index of every output
// element is known; Where selects between two tensors by a bool condition (row by row for float32 without a
// gradient). For float32 the gradient flows back through the same indices (scatter-add), so these ops train like the rest.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// A tensor of <paramref name="shape"/> whose element i is this tensor's element <paramref name="source"/>[i]
    /// (flat, row-major indices). Any element type; float32 records the scatter-add gradient.
    /// </summary>
    public Tensor Take(int[] source, int[] shape)
    {
        // Every element is written: float32 takes its array from the pass's arena (TensorArena), unzeroed.
        var y = DataType == DataType.Float32 ? Uninitialized(shape) : Allocate(DataType, shape);
        if (source.Length != y.Size) throw new ArgumentException($"{source.Length} source indices for {y.Size} elements");
        switch (DataType.Storage())
        {
            case TensorStorage.Single:
                var (fx, fy) = (_floats!, y._floats!);
                for (int i = 0; i < source.Length; i++) fy[i] = fx[source[i]];
                break;
            case TensorStorage.Double:
                var (dx, dy) = (_doubles!, y._doubles!);
                for (int i = 0; i < source.Length; i++) dy[i] = dx[source[i]];
                break;
            default:
                var (lx, ly) = (_longs!, y._longs!);
                for (int i = 0; i < source.Length; i++) ly[i] = lx[source[i]];
                break;
        }
        if (DataType != DataType.Float32) return y;
        return Record(y, g =>
        {
            var gx = new float[Size];
            var gy = g.Data;
            for (int i = 0; i < source.Length; i++) gx[source[i]] += gy[i];
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>
    /// ONNX Where: <paramref name="x"/> where <paramref name="condition"/> (bool) holds, else <paramref name="y"/>,
    /// all three broadcast together; x and y share a type. Float32 gradients go to the side each element came from.
    /// </summary>
    public static Tensor Where(Tensor condition, Tensor x, Tensor y)
    {
        TypedOps.CheckBool(nameof(Where), condition);
        TypedOps.CheckSameType(nameof(Where), x, y);
        var shape = BroadcastIndex.Shape(condition.Shape, x.Shape, y.Shape);
        if (x.DataType == DataType.Float32 && !(Autograd.GradMode.Enabled && (x.RequiresGrad || y.RequiresGrad)))
            return SelectFloats(condition, x, y, shape);
        var mc = BroadcastIndex.Map(condition.Shape, shape);
        var mx = BroadcastIndex.Map(x.Shape, shape) ?? Identity(x.Size);
        var my = BroadcastIndex.Map(y.Shape, shape) ?? Identity(y.Size);
        var c = condition.Int64Data;
        int n = Tensors.Shape.Size(shape);
        // The source of each element: x's flat index, or y's offset by x's size (one Take over both, concatenated).
        var source = new int[n];
        for (int i = 0; i < n; i++) source[i] = c[mc?[i] ?? i] != 0 ? mx[i] : x.Size + my[i];
        var both = Concat([x.Reshape(x.Size), y.Reshape(y.Size)], 0);
        return both.Take(source, shape);
    }

    // Where on float32 without a gradient, innermost row by innermost row: each operand gives a row (stride 1) or one value
    // repeated (stride 0) — a causal mask selects between scores and one constant without index maps or a concatenation.
    private static Tensor SelectFloats(Tensor condition, Tensor x, Tensor y, int[] shape)
    {
        var result = Uninitialized(shape);
        int width = shape.Length == 0 ? 1 : shape[^1];
        var rowsC = Kernels.Elementwise.Broadcast.RowOffsets(Kernels.Elementwise.Broadcast.StridesIn(condition.Shape, shape), shape, out int c1);
        var rowsX = Kernels.Elementwise.Broadcast.RowOffsets(Kernels.Elementwise.Broadcast.StridesIn(x.Shape, shape), shape, out int x1);
        var rowsY = Kernels.Elementwise.Broadcast.RowOffsets(Kernels.Elementwise.Broadcast.StridesIn(y.Shape, shape), shape, out int y1);
        long[] c = condition.Int64Data;
        float[] a = x.Data, b = y.Data, o = result.Data;
        for (int r = 0; r < rowsC.Length; r++)
        {
            int oc = rowsC[r], ox = rowsX[r], oy = rowsY[r], row = r * width;
            for (int j = 0; j < width; j++) o[row + j] = c[oc + j * c1] != 0 ? a[ox + j * x1] : b[oy + j * y1];
        }
        return result;
    }

    private static int[] Identity(int n)
    {
        var map = new int[n];
        for (int i = 0; i < n; i++) map[i] = i;
        return map;
    }

    // Concat of tensors of one non-float32 type (no gradient): part j fills its slice of each outer row.
    private static Tensor ConcatTyped(IReadOnlyList<Tensor> parts, int[] shape, int outer, int inner, int total, int axis)
    {
        var type = parts[0].DataType;
        foreach (var p in parts) TypedOps.CheckSameType(nameof(Concat), parts[0], p);
        var y = Allocate(type, shape);
        int start = 0;
        foreach (var p in parts)
        {
            int width = p.Shape[axis] * inner;
            for (int o = 0; o < outer; o++) Array.Copy(p.Storage, o * width, y.Storage, o * total * inner + start * inner, width);
            start += p.Shape[axis];
        }
        return y;
    }

    // The array holding the values, whichever storage the type uses.
    internal Array Storage => (Array?)_floats ?? (Array?)_doubles ?? _longs!;
}
