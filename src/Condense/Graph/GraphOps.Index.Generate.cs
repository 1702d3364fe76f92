// ONNX ops that generate index patterns (Ops/IndexOps): Range and Trilu.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // Range: max(ceil((limit − start) / delta), 0) values start, start + delta, … in the inputs' type. As ONNX Runtime
    // does, each value adds delta to the previous one in the type (float32 rounds each sum, integers wrap); the
    // count of an integer range is exact, of a float range computed from the difference in the type.
    internal static Tensor Range(Node node, Tensor?[] inputs)
    {
        var start = Scalar(node, inputs, 0, "start");
        var limit = Scalar(node, inputs, 1, "limit");
        var delta = Scalar(node, inputs, 2, "delta");
        TypedOps.CheckSameType(node.OpType, start, limit);
        TypedOps.CheckSameType(node.OpType, start, delta);
        var type = start.DataType;
        switch (type.Storage())
        {
            case TensorStorage.Int64:
            {
                long s = start.Int64Data[0], d = delta.Int64Data[0];
                if (d == 0) throw IndexError(node, "delta is 0");
                Int128 distance = (Int128)limit.Int64Data[0] - s;
                Int128 count = distance / d + (distance % d != 0 && (distance > 0) == (d > 0) ? 1 : 0);
                var values = new long[RangeCount(node, (double)count)];
                for (int i = 0; i < values.Length; i++, s = type.Wrap(s + d)) values[i] = s;
                return Tensor.FromInt64s(values, type, values.Length);
            }
            case TensorStorage.Double:
            {
                double s = start.Float64Data[0], d = delta.Float64Data[0];
                if (d == 0) throw IndexError(node, "delta is 0");
                var values = new double[RangeCount(node, Math.Ceiling((limit.Float64Data[0] - s) / d))];
                for (int i = 0; i < values.Length; i++, s += d) values[i] = s;
                return Tensor.FromDoubles(values, values.Length);
            }
            default:
            {
                float s = start.Data[0], d = delta.Data[0];
                if (d == 0) throw IndexError(node, "delta is 0");
                var values = new float[RangeCount(node, Math.Ceiling((double)(limit.Data[0] - s) / d))];
                for (int i = 0; i < values.Length; i++, s += d) values[i] = s;
                return Tensor.FromFloats(values, type, values.Length);
            }
        }
    }

    private static Tensor Scalar(Node node, Tensor?[] inputs, int index, string name) =>
        Required(node, inputs, index) is { Size: 1 } t ? t : throw IndexError(node, $"{name} must hold one value");

    private static int RangeCount(Node node, double count)
    {
        if (double.IsNaN(count) || count > int.MaxValue) throw IndexError(node, $"a range of {count} values is not supported");
        return (int)Math.Max(count, 0);
    }

    // Trilu: the elements of the last two dimensions with column − row ≥ k (upper, the default) or ≤ k (lower)
    // kept, the others zero; k is the optional second input. Where keeps the float32 gradient of the kept elements.
    internal static Tensor Trilu(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        if (x.Rank < 2) throw IndexError(node, $"the input has rank {x.Rank}; at least 2 is needed");
        var kTensor = Optional(inputs, 1);
        if (kTensor is not null and not { Size: 1 }) throw IndexError(node, "k must hold one value");
        long k = kTensor?.ToInt64Values()[0] ?? 0;
        bool upper = node.Int("upper", 1) != 0;
        int rows = x.Shape[^2], cols = x.Shape[^1];
        var keep = new long[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) keep[i * cols + j] = (upper ? j - i >= k : j - i <= k) ? 1 : 0;
        var zero = TypedOps.Cast(Tensor.Scalar(0f), x.DataType);
        return Tensor.Where(Tensor.FromInt64s(keep, DataType.Bool, rows, cols), x, zero);
    }
}
