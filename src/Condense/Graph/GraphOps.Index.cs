// ONNX semantics of the index family (Ops/IndexOps): the attribute and input forms of each opset, negative
// axes and indices, clamping. Each op ends in Tensor.Take over an index map of Tensors/IndexMaps, so every
// element type is moved exactly and float32 keeps its gradient.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // An axis of a rank-`rank` tensor (negative counts from the end), checked.
    private static int AxisOf(Node node, long axis, int rank, string what = "axis")
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new CondenseException($"node '{node.Name}' ({node.OpType}): {what} {axis} is out of range for rank {rank}");
        return (int)a;
    }

    private static CondenseException IndexError(Node node, string message) => new($"node '{node.Name}' ({node.OpType}): {message}");

    // Slice: starts, ends and axes are attributes before opset 10, inputs (with steps) from it. Per the spec, a negative
    // start or end counts from the end; then with step > 0 both are clamped to [0, dim], with step < 0 start to
    // [0, dim − 1] and end to [−1, dim − 1], and the axis keeps ceil((end − start) / step) elements (none if negative).
    internal static Tensor Slice(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        bool fromInputs = Optional(inputs, 1) is not null;
        var starts = fromInputs ? inputs[1]!.ToInt64Values() : Ints(node, "starts") ?? throw IndexError(node, "has no starts");
        var ends = fromInputs ? Required(node, inputs, 2).ToInt64Values() : Ints(node, "ends") ?? throw IndexError(node, "has no ends");
        var axes = (fromInputs ? Optional(inputs, 3)?.ToInt64Values() : Ints(node, "axes")) ?? [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        var steps = (fromInputs ? Optional(inputs, 4)?.ToInt64Values() : null) ?? [.. Enumerable.Repeat(1L, starts.Length)];
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            throw IndexError(node, $"starts, ends, axes and steps differ in length ({starts.Length}, {ends.Length}, {axes.Length}, {steps.Length})");
        int rank = x.Rank;
        var start = new int[rank];
        var step = Enumerable.Repeat(1, rank).ToArray();
        var count = (int[])x.Shape.Clone();
        var seen = new bool[rank];
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = AxisOf(node, axes[i], rank);
            if (seen[axis]) throw IndexError(node, $"axis {axes[i]} is given twice");
            seen[axis] = true;
            if (steps[i] == 0) throw IndexError(node, "a step is 0");
            // A step beyond int32 keeps at most one element, as int.MaxValue does.
            long stepValue = Math.Clamp(steps[i], -int.MaxValue, int.MaxValue);
            (start[axis], count[axis]) = SliceRange(starts[i], ends[i], stepValue, x.Shape[axis]);
            step[axis] = (int)stepValue;
        }
        return x.Strided(start, step, count);
    }

    // The first index and the element count of one sliced axis (ONNX Slice-13's clamping).
    private static (int Start, int Count) SliceRange(long start, long end, long step, int dim)
    {
        if (start < 0) start += dim;
        if (end < 0) end += dim;
        long distance;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, dim);
            distance = Math.Clamp(end, 0, dim) - start;
        }
        else
        {
            start = Math.Min(Math.Max(start, 0), dim - 1);
            distance = start - Math.Min(Math.Max(end, -1), dim - 1);
        }
        long stride = Math.Abs(step);
        return distance <= 0 ? (0, 0) : ((int)start, (int)((distance - 1) / stride + 1));
    }
}
