// The ops ONNX exporters emit around the layers: Transpose, Clip, Pow, ReduceMean, and the shape
// arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) that PyTorch writes for dynamic batches.
// Shapes and indices are float tensors holding integers, like every integer tensor in the engine.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // ONNX TensorProto.DataType code of float, Cast's default target.
    private const long OnnxFloat = 1;

    private static long[]? Ints(Node node, string name) =>
        node.Attributes.TryGetValue(name, out var a) && a.IntsValue is { } v ? v : null;

    // Axes come from the attribute (older opsets) or from an optional input (Squeeze/Unsqueeze 13+, ReduceMean 18+).
    internal static int[]? Axes(Node node, Tensor?[] inputs, int index) =>
        Optional(inputs, index) is { } t ? t.ToInt64Values().Select(v => (int)v).ToArray()
            : Ints(node, "axes")?.Select(v => (int)v).ToArray();

    internal static Tensor Transpose(Node node, Tensor x)
    {
        var perm = Ints(node, "perm")?.Select(v => (int)v).ToArray() ?? Enumerable.Range(0, x.Rank).Reverse().ToArray();
        return x.DataType == DataType.Float32 ? x.Permute(perm) : x.Take(IndexMaps.Permute(x.Shape, perm), [.. perm.Select(p => x.Shape[p])]);
    }

    // Clip: bounds as inputs 1 and 2 (opset 11+) or attributes min/max (before); absent means unbounded.
    internal static Tensor Clip(Node node, Tensor?[] inputs)
    {
        if (Required(node, inputs, 0).DataType != DataType.Float32)
            return TypedOps.Clip(Required(node, inputs, 0), Optional(inputs, 1), Optional(inputs, 2));
        float min = Optional(inputs, 1)?.Item() ?? node.Float("min", float.NegativeInfinity);
        float max = Optional(inputs, 2)?.Item() ?? node.Float("max", float.PositiveInfinity);
        return Required(node, inputs, 0).Clip(min, max);
    }

    /// <summary>
    /// The constant bounds of a Clip: its inputs 1 and 2 (opset 11 on; <paramref name="min"/> and <paramref name="max"/> are
    /// their tensors, null where an input is not a constant), else its attributes (opset 6), an absent bound unbounded; null
    /// when a bound is not a constant one-element float or is NaN. What the fused convolution chains and the integer engine fold.
    /// </summary>
    internal static (float Min, float Max)? ClipBounds(Node clip, Tensor? min, Tensor? max)
    {
        float? Bound(int i, Tensor? given, string attribute, float unbounded)
        {
            float? value = i >= clip.Inputs.Count || clip.Inputs[i].Length == 0 ? clip.Float(attribute, unbounded)
                : given is { DataType: DataType.Float32, Size: 1 } t ? t.Data[0] : null;
            return value is float v && float.IsNaN(v) ? null : value;
        }
        return (Bound(1, min, "min", float.NegativeInfinity), Bound(2, max, "max", float.PositiveInfinity)) is (float lo, float hi) ? (lo, hi) : null;
    }

    // Pow: a one-element exponent (the common x² of exporters) uses the scalar kernel; others broadcast.
    internal static Tensor Pow(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var exponent = Second(node, inputs);
        if (x.DataType != DataType.Float32 || exponent.DataType != DataType.Float32) return TypedOps.Pow(x, exponent);
        return exponent.Size == 1 && exponent.Rank <= x.Rank && !exponent.RequiresGrad ? x.Pow(exponent.Data[0]) : x.Pow(exponent);
    }

    internal static Tensor Erf(Tensor x) => x.Erf();

    // B of a binary op. Opset 1–6's broadcast = 1 with axis aligns B's dimensions with A's from that axis on (B [3]
    // against A [2, 3, 4] at axis 1 acts as B [3, 1] under numpy's rule); otherwise B broadcasts the numpy way.
    internal static Tensor Second(Node node, Tensor?[] inputs)
    {
        var b = Required(node, inputs, 1);
        if (node.Int("broadcast", 0) == 0 || !node.Attributes.ContainsKey("axis")) return b;
        int rank = Required(node, inputs, 0).Rank, axis = (int)node.Int("axis", 0);
        if (axis < 0) axis += rank;
        int trailing = rank - axis - b.Rank;
        if (axis < 0 || trailing < 0)
            throw new CondenseException(
                $"node '{node.Name}' ({node.OpType}): B {Shape.Format(b.Shape)} cannot broadcast from axis {axis} of a rank-{rank} input");
        return trailing == 0 ? b : b.Reshape([.. b.Shape, .. Enumerable.Repeat(1, trailing)]);
    }

    // Shape (opset 15 adds start/end to slice it): a 1-D tensor of the input's dimensions; no gradient.
    internal static Tensor ShapeOf(Node node, Tensor x)
    {
        int start = (int)node.Int("start", 0), end = (int)node.Int("end", x.Rank);
        if (start < 0) start += x.Rank;
        if (end < 0) end += x.Rank;
        start = Math.Clamp(start, 0, x.Rank);
        end = Math.Clamp(end, start, x.Rank);
        return Tensor.FromInt64s(x.Shape[start..end].Select(d => (long)d).ToArray(), DataType.Int64, end - start);
    }

    internal static Tensor Unsqueeze(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var axes = Axes(node, inputs, 1) ?? throw new CondenseException($"node '{node.Name}' (Unsqueeze) has no axes");
        int rank = x.Rank + axes.Length;
        var inserted = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
        var shape = new int[rank];
        for (int d = 0, k = 0; d < rank; d++) shape[d] = inserted.Contains(d) ? 1 : x.Shape[k++];
        return x.Reshape(shape);
    }

    internal static Tensor Squeeze(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var axes = Axes(node, inputs, 1)?.Select(a => a < 0 ? a + x.Rank : a).ToHashSet();
        var shape = x.Shape.Where((d, i) => axes is null ? d != 1 : !axes.Contains(i)).ToArray();
        return x.Reshape(shape);
    }

    // Cast to any element type by ONNX's rules (Tensors/Ops.Cast.cs). Between float32 and float32 the input
    // passes through, so the gradient flows; every other cast changes the type and has none.
    internal static Tensor Cast(Node node, Tensor x)
    {
        long to = node.Int("to", OnnxFloat);
        var type = DataTypes.FromOnnxCode(to)
            ?? throw new CondenseException($"node '{node.Name}' (Cast): unsupported target type {to} (string, float8 and 4-bit types are not supported)");
        return TypedOps.Cast(x, type);
    }
}
