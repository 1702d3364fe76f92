// ONNX GatherElements, GatherND, ScatterElements, ScatterND and OneHot (Ops/IndexOps): negative indices count from
// the end of their dimension, an index out of range is refused in one line (ONNX Runtime refuses it too).
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor GatherElements(Node node, Tensor?[] inputs)
    {
        var (x, axis, indices, targets) = ElementTargets(node, inputs);
        return x.Take(targets, indices.Shape);
    }

    // ScatterElements: updates (shaped like the indices) written where GatherElements would read.
    internal static Tensor ScatterElements(Node node, Tensor?[] inputs)
    {
        var (x, _, indices, targets) = ElementTargets(node, inputs);
        var updates = Required(node, inputs, 2);
        if (!Shape.Equal(updates.Shape, indices.Shape))
            throw IndexError(node, $"updates {Shape.Format(updates.Shape)} differ in shape from the indices {Shape.Format(indices.Shape)}");
        return x.Scatter(updates, targets, Reduction(node));
    }

    // The data element each index of GatherElements / ScatterElements names: indices of the data's rank, no dimension
    // larger than the data's except along the axis.
    private static (Tensor X, int Axis, Tensor Indices, int[] Targets) ElementTargets(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var indices = Required(node, inputs, 1);
        int axis = AxisOf(node, node.Int("axis", 0), x.Rank);
        if (indices.Rank != x.Rank || Enumerable.Range(0, x.Rank).Any(d => d != axis && indices.Shape[d] > x.Shape[d]))
            throw IndexError(node, $"indices {Shape.Format(indices.Shape)} do not fit data {Shape.Format(x.Shape)} outside axis {axis}");
        var values = indices.ToInt64Values();
        var checkedValues = new long[values.Length];
        for (int i = 0; i < values.Length; i++) checkedValues[i] = CheckIndex(node, values[i], x.Shape[axis]);
        return (x, axis, indices, IndexMaps.GatherElements(x.Shape, axis, checkedValues, indices.Shape));
    }

    // GatherND: with batch_dims b (opset 12), the last dimension m of the indices addresses data dimensions b … b + m − 1
    // within the batch of the leading b dimensions; the output is indices.shape[:−1] + data.shape[b + m:].
    internal static Tensor GatherND(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var indices = Required(node, inputs, 1);
        int batchDims = (int)node.Int("batch_dims", 0);
        var tuples = NDTargets(node, x, indices, batchDims);
        int m = indices.Shape[^1];
        return x.Take(tuples, [.. indices.Shape[..^1], .. x.Shape[(batchDims + m)..]]);
    }

    // ScatterND: updates shaped indices.shape[:−1] + data.shape[m:] written into the blocks the index tuples name.
    internal static Tensor ScatterND(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var indices = Required(node, inputs, 1);
        var updates = Required(node, inputs, 2);
        var targets = NDTargets(node, x, indices, 0);
        int[] expected = [.. indices.Shape[..^1], .. x.Shape[indices.Shape[^1]..]];
        if (!Shape.Equal(updates.Shape, expected))
            throw IndexError(node, $"updates are {Shape.Format(updates.Shape)}; the indices and data need {Shape.Format(expected)}");
        return x.Scatter(updates, targets, Reduction(node));
    }

    private static int[] NDTargets(Node node, Tensor x, Tensor indices, int batchDims)
    {
        if (indices.Rank < 1 || batchDims < 0 || batchDims >= Math.Min(indices.Rank, x.Rank))
            throw IndexError(node, $"batch_dims {batchDims} does not fit indices of rank {indices.Rank} and data of rank {x.Rank}");
        int m = indices.Shape[^1];
        if (batchDims + m > x.Rank) throw IndexError(node, $"index tuples of {m} exceed the data's rank {x.Rank}");
        if (!Shape.Equal(indices.Shape.AsSpan(0, batchDims), x.Shape.AsSpan(0, batchDims)))
            throw IndexError(node, $"the batch dimensions of indices {Shape.Format(indices.Shape)} and data {Shape.Format(x.Shape)} differ");
        var values = indices.ToInt64Values();
        var checkedValues = new long[values.Length];
        for (int i = 0; i < values.Length; i++) checkedValues[i] = CheckIndex(node, values[i], x.Shape[batchDims + i % m]);
        return IndexMaps.GatherND(x.Shape, checkedValues, indices.Shape, batchDims);
    }

    private static long CheckIndex(Node node, long index, int dim)
    {
        long i = index < 0 ? index + dim : index;
        return i >= 0 && i < dim ? i : throw IndexError(node, $"index {index} is out of range for a dimension of {dim}");
    }

    // The reduction attribute of ScatterElements and ScatterND (opset 16: none, add, mul; 18: max, min).
    private static ScatterReduction Reduction(Node node) =>
        (node.Attributes.TryGetValue("reduction", out var a) ? a.StringValue : null) switch
        {
            null or "none" => ScatterReduction.None,
            "add" => ScatterReduction.Add,
            "mul" => ScatterReduction.Mul,
            "max" => ScatterReduction.Max,
            "min" => ScatterReduction.Min,
            var r => throw IndexError(node, $"unknown reduction '{r}'"),
        };

    // OneHot: values[1] where the position along the new axis equals the index (negative indices count from depth),
    // values[0] elsewhere, an index outside [−depth, depth) giving values[0] throughout. Indices and depth of any
    // numeric type are truncated to integers as ONNX Runtime does; Take keeps the float32 gradient of the values.
    internal static Tensor OneHot(Node node, Tensor?[] inputs)
    {
        var indices = Required(node, inputs, 0);
        var depthTensor = Required(node, inputs, 1);
        var values = Required(node, inputs, 2);
        if (depthTensor.Size != 1) throw IndexError(node, "depth must hold one value");
        if (values.Size != 2) throw IndexError(node, "values must hold two values, off and on");
        double depthValue = Math.Truncate(depthTensor.GetDouble(0));
        if (!(depthValue >= 0 && depthValue <= int.MaxValue)) throw IndexError(node, $"depth {depthTensor.GetDouble(0)} is not supported");
        int depth = (int)depthValue;
        int axis = AxisOf(node, node.Int("axis", -1), indices.Rank + 1);
        int[] shape = [.. indices.Shape[..axis], depth, .. indices.Shape[axis..]];
        int outer = Shape.Size(indices.Shape.AsSpan(0, axis)), inner = Shape.Size(indices.Shape.AsSpan(axis));
        var picks = indices.ToInt64Values();
        var map = new int[Shape.Size(shape)];
        for (int o = 0, k = 0; o < outer; o++)
            for (int d = 0; d < depth; d++)
                for (int i = 0; i < inner; i++)
                {
                    long pick = picks[o * inner + i];
                    map[k++] = pick == d || pick + depth == d && pick < 0 ? 1 : 0;
                }
        return values.Reshape(2).Take(map, shape);
    }
}
