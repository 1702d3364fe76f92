// ONNX ArgMax, ArgMin and TopK (Ops/IndexOps): positions of the extreme values along an axis, for every numeric type,
// compared in the type (int64 and uint64 exactly). Ties go to the lower index as in ONNX Runtime (ArgMax/ArgMin's
// select_last_index = 1 takes the higher); TopK's values are a Take of the input, so float32 keeps its gradient.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // ArgMax / ArgMin: axis (default 0), keepdims (default 1), select_last_index (opset 12, default 0); int64 out.
    internal static Tensor ArgExtreme(Node node, Tensor?[] inputs, bool largest)
    {
        var x = Required(node, inputs, 0);
        int axis = AxisOf(node, node.Int("axis", 0), x.Rank);
        bool last = node.Int("select_last_index", 0) != 0;
        var (outer, n, inner) = AxisSplit(x.Shape, axis);
        if (n == 0) throw IndexError(node, "the axis is empty, so it has no extreme");
        var better = Ordering(x, largest);
        var result = new long[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0, at = o * n * inner + i;
                for (int l = 1; l < n; l++)
                {
                    int order = better(at + l * inner, at + best * inner);
                    if (order < 0 || order == 0 && last) best = l;
                }
                result[o * inner + i] = best;
            }
        int[] shape = node.Int("keepdims", 1) != 0 ? [.. x.Shape[..axis], 1, .. x.Shape[(axis + 1)..]] : [.. x.Shape[..axis], .. x.Shape[(axis + 1)..]];
        return Tensor.FromInt64s(result, DataType.Int64, shape);
    }

    // TopK: k from input 1 (opset 10+) or the attribute (opset 1); axis (default −1), largest (opset 11, default 1).
    // The k elements are given best first; sorted = 0 leaves the order to the implementation, and best first is one.
    internal static Tensor[] TopK(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        int axis = AxisOf(node, node.Int("axis", -1), x.Rank);
        var kTensor = Optional(inputs, 1);
        if (kTensor is not null and not { Size: 1 }) throw IndexError(node, "K must hold one value");
        long k = kTensor?.ToInt64Values()[0] ?? node.Int("k", -1);
        var (outer, n, inner) = AxisSplit(x.Shape, axis);
        if (k < 0 || k > n) throw IndexError(node, $"k = {k} is outside [0, {n}], the size of axis {axis}");
        var better = Ordering(x, node.Int("largest", 1) != 0);
        // Best first, and among equal values the lower index first.
        Comparison<int> order = (a, b) => better(a, b) is var c && c != 0 ? c : a.CompareTo(b);
        var source = new int[outer * k * inner];
        var indices = new long[source.Length];
        var candidates = new int[n];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int at = o * n * inner + i;
                for (int l = 0; l < n; l++) candidates[l] = at + l * inner;
                Array.Sort(candidates, order);
                for (int r = 0; r < k; r++)
                {
                    int slot = (o * (int)k + r) * inner + i;
                    source[slot] = candidates[r];
                    indices[slot] = (candidates[r] - at) / inner;
                }
            }
        int[] shape = [.. x.Shape[..axis], (int)k, .. x.Shape[(axis + 1)..]];
        return [x.Take(source, shape), Tensor.FromInt64s(indices, DataType.Int64, shape)];
    }

    private static (int Outer, int N, int Inner) AxisSplit(int[] shape, int axis) =>
        (Shape.Size(shape.AsSpan(0, axis)), shape[axis], Shape.Size(shape.AsSpan(axis + 1)));

    // Negative when flat element a comes before b: larger first when `largest`, else smaller first.
    private static Comparison<int> Ordering(Tensor x, bool largest)
    {
        int sign = largest ? -1 : 1;
        switch (x.DataType.Storage())
        {
            case TensorStorage.Single:
                var f = x.SingleData;
                return (a, b) => sign * f[a].CompareTo(f[b]);
            case TensorStorage.Double:
                var d = x.Float64Data;
                return (a, b) => sign * d[a].CompareTo(d[b]);
            default:
                var v = x.Int64Data;
                if (x.DataType == DataType.UInt64) return (a, b) => sign * ((ulong)v[a]).CompareTo((ulong)v[b]);
                return (a, b) => sign * v[a].CompareTo(v[b]);
        }
    }

    // CumSum: the axis is input 1 (an int32 or int64 scalar); exclusive and reverse attributes (Tensors/Ops.CumSum.cs).
    internal static Tensor CumSum(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var axis = Required(node, inputs, 1);
        if (axis.Size != 1) throw IndexError(node, "axis must hold one value");
        return x.CumSum(AxisOf(node, axis.ToInt64Values()[0], x.Rank), node.Int("exclusive", 0) != 0, node.Int("reverse", 0) != 0);
    }
}
