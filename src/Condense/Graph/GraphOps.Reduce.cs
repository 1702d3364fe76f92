// ONNX's reductions over a set of axes (https://onnx.ai/onnx/operators/): ReduceSum, ReduceMean, ReduceMax, ReduceMin,
// ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum and ReduceLogSumExp. The axes come from the attribute
// (before opset 13 for ReduceSum, 18 for the others) or the optional second input; no axes means all of them, unless
// noop_with_empty_axes makes the op the identity (as ONNX's reference does for every reduction). Float32 runs through
// autograd so it trains (ReduceProd excepted); the other types run in their own type through TypedOps.ReduceAxis.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor ReduceSum(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, a, k) => x.Sum(a, k), TypedReduction.Sum);

    internal static Tensor ReduceMean(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, a, k) => x.Mean(a, k), TypedReduction.Sum, mean: true);

    internal static Tensor ReduceMax(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, a, k) => x.Max(a, k), TypedReduction.Max);

    internal static Tensor ReduceMin(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, a, k) => x.Min(a, k), TypedReduction.Min);

    // No gradient: ∂/∂xᵢ of a product is the product of the others, undefined through zeros by division.
    internal static Tensor ReduceProd(Node node, Tensor?[] inputs) => Reduce(node, inputs, null, TypedReduction.Product);

    internal static Tensor ReduceSumSquare(Node node, Tensor?[] inputs) =>
        Reduce(node, inputs, (x, a, k) => x.Sum(a, k), TypedReduction.Sum, before: Square);

    internal static Tensor ReduceL1(Node node, Tensor?[] inputs) =>
        Reduce(node, inputs, (x, a, k) => x.Sum(a, k), TypedReduction.Sum, before: x => Elementwise(node, [x], AbsFunction));

    internal static Tensor ReduceL2(Node node, Tensor?[] inputs) =>
        Reduce(node, inputs, (x, a, k) => x.Sum(a, k), TypedReduction.Sum, before: Square, after: y => Elementwise(node, [y], NormRootFunction));

    internal static Tensor ReduceLogSum(Node node, Tensor?[] inputs) =>
        Reduce(node, inputs, (x, a, k) => x.Sum(a, k), TypedReduction.Sum, after: y => Elementwise(node, [y], SumLogFunction));

    // log Σ exp x = m + log Σ exp(x − m) with m the maximum, so large inputs do not overflow; over several axes the
    // log-sum-exps nest, one axis at a time.
    internal static Tensor ReduceLogSumExp(Node node, Tensor?[] inputs) => Reduce(node, inputs, (x, axis, keep) =>
    {
        var max = x.Max(axis, keepDim: true).Detach();
        var y = x.Sub(max).Exp().Sum(axis, keepDim: true).Log().Add(max);
        return keep ? y : y.Reshape([.. y.Shape.Where((_, i) => i != axis)]);
    }, TypedReduction.Sum, typedAlongAxis: (x, axis, keep) =>
    {
        var max = TypedOps.ReduceAxis(node.OpType, x, axis, keepDim: true, TypedReduction.Max);
        var shifted = TypedOps.Map(node.OpType, TypedOps.Sub(x, max), Math.Exp);
        var y = TypedOps.Add(TypedOps.Map(node.OpType, TypedOps.ReduceAxis(node.OpType, shifted, axis, true, TypedReduction.Sum), Math.Log), max);
        return keep ? y : y.Reshape([.. y.Shape.Where((_, i) => i != axis)]);
    });

    // The root and logarithm that close ReduceL2 and ReduceLogSum, with derivatives so float32 trains through them.
    private static readonly ScalarFunction NormRootFunction = new(Math.Sqrt, (_, y) => 0.5 / y, (v, _) => (long)Math.Sqrt(v));
    private static readonly ScalarFunction SumLogFunction = new(Math.Log, (x, _) => 1 / x, (v, _) => (long)Math.Log(v));

    private static Tensor Square(Tensor x) => x.DataType == DataType.Float32 ? x.Mul(x) : TypedOps.Mul(x, x);

    private static Tensor Reduce(Node node, Tensor?[] inputs, Func<Tensor, int, bool, Tensor>? float32AlongAxis, TypedReduction reduction,
        bool mean = false, Func<Tensor, Tensor>? before = null, Func<Tensor, Tensor>? after = null,
        Func<Tensor, int, bool, Tensor>? typedAlongAxis = null)
    {
        var input = Required(node, inputs, 0);
        bool keep = node.Int("keepdims", 1) != 0;
        var axes = Axes(node, inputs, 1);
        if (axes is null || axes.Length == 0)
        {
            if (node.Int("noop_with_empty_axes", 0) != 0) return input;
            axes = Enumerable.Range(0, input.Rank).ToArray();
        }
        var order = axes.Select(a => a < 0 ? a + input.Rank : a).Distinct().OrderDescending().ToArray();
        if (order.Any(axis => axis < 0 || axis >= input.Rank))
            throw new CondenseException($"node '{node.Name}' ({node.OpType}): axis out of range for shape {Shape.Format(input.Shape)}");
        // Reduce the highest axis first so the lower axis numbers stay valid when dimensions are dropped.
        if (input.DataType == DataType.Float32 && float32AlongAxis is not null)
        {
            // A mean over several axes is the mean of means: every slice along an axis has the same length.
            var y = before is null ? input : before(input);
            foreach (int axis in order) y = float32AlongAxis(y, axis, keep);
            return after is null ? y : after(y);
        }
        return TypedReduce(node, input, order, keep, reduction, mean, before, after, typedAlongAxis);
    }

    // Floating types reduce in double and round once at the end (ONNX Runtime accumulates float16 in float32 at least);
    // integers reduce in int64, and a mean divides once by the element count, truncating as ONNX Runtime does.
    private static Tensor TypedReduce(Node node, Tensor input, int[] order, bool keep, TypedReduction reduction, bool mean,
        Func<Tensor, Tensor>? before, Func<Tensor, Tensor>? after, Func<Tensor, int, bool, Tensor>? typedAlongAxis)
    {
        var type = input.DataType;
        var y = type.IsFloat() ? TypedOps.Cast(input, DataType.Float64) : input;
        if (before is not null) y = before(y);
        long count = 1;
        foreach (int axis in order)
        {
            y = typedAlongAxis is null ? TypedOps.ReduceAxis(node.OpType, y, axis, keep, reduction) : typedAlongAxis(y, axis, keep);
            count *= input.Shape[axis];
        }
        if (mean)
            y = TypedOps.Map(node.OpType, y, v => v / count,
                (v, t) => count == 0 ? 0 : t == DataType.UInt64 ? (long)((ulong)v / (ulong)count) : v / count);
        if (after is not null) y = after(y);
        return y.DataType == type ? y : TypedOps.Cast(y, type);
    }
}
