// ONNX's reductions over a set of axes: ReduceMean, ReduceSum, ReduceSumSquare, ReduceMax, ReduceMin.
// The axes come from the attribute (before opset 13 for ReduceSum, 18 for the others) or the optional
// second input; no axes means all of them, unless noop_with_empty_axes makes it the identity.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor ReduceMean(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, axis, keep) => x.Mean(axis, keep));

    internal static Tensor ReduceSum(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, axis, keep) => x.Sum(axis, keep));

    internal static Tensor ReduceSumSquare(Node node, Tensor?[] inputs) =>
        Reduce(node, inputs, (x, axis, keep) => x.Sum(axis, keep), square: true);

    internal static Tensor ReduceMax(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, axis, keep) => x.Max(axis, keep));

    internal static Tensor ReduceMin(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, axis, keep) => x.Min(axis, keep));

    private static Tensor Reduce(Node node, Tensor?[] inputs, Func<Tensor, int, bool, Tensor> alongAxis, bool square = false)
    {
        var x = Required(node, inputs, 0);
        if (square) x = x.Mul(x);
        bool keep = node.Int("keepdims", 1) != 0;
        var axes = Axes(node, inputs, 1);
        if (axes is null || axes.Length == 0)
        {
            if (node.Int("noop_with_empty_axes", 0) != 0) return x;
            axes = Enumerable.Range(0, x.Rank).ToArray();
        }
        // Reduce the highest axis first so the lower axis numbers stay valid when dimensions are dropped.
        foreach (int axis in axes.Select(a => a < 0 ? a + x.Rank : a).Distinct().OrderDescending())
        {
            if (axis < 0 || axis >= Required(node, inputs, 0).Rank)
                throw new CondenseException($"node '{node.Name}' ({node.OpType}): axis out of range for shape {Shape.Format(Required(node, inputs, 0).Shape)}");
            x = alongAxis(x, axis, keep);
        }
        return x;
    }
}
