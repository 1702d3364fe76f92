// Reductions along one axis in the tensor's own type, without gradients: the typed half of ONNX's Reduce* ops
// (float32 trains through the autograd Sum/Mean/Max/Min instead). Floating types accumulate in double and round once
// to the type; integer types accumulate in int64 and wrap to the type's width at the end, which is what wrapping at
// every step gives for sums and products (arithmetic modulo 2^64 truncated to the width).
namespace Condense.Tensors;

/// <summary>
/// A reduction: the value of an empty reduction and the step that folds one element in, for floating types (in double)
/// and integer types (in int64, with the type for unsigned comparisons).
/// </summary>
internal sealed record TypedReduction(
    double Seed, Func<double, double, double> Float, Func<DataType, long> IntegerSeed, Func<long, long, DataType, long> Integer)
{
    public static readonly TypedReduction Sum = new(0, (a, x) => a + x, _ => 0, (a, x, _) => unchecked(a + x));

    public static readonly TypedReduction Product = new(1, (a, x) => a * x, _ => 1, (a, x, _) => unchecked(a * x));

    // ONNX Runtime propagates NaN through ReduceMax and ReduceMin, as numpy does.
    public static readonly TypedReduction Max = new(double.NegativeInfinity, (a, x) => double.IsNaN(a) || double.IsNaN(x) ? double.NaN : Math.Max(a, x),
        t => t == DataType.UInt64 ? 0 : t.IsSignedInteger() ? long.MinValue : 0,
        (a, x, t) => t == DataType.UInt64 ? (long)Math.Max((ulong)a, (ulong)x) : Math.Max(a, x));

    public static readonly TypedReduction Min = new(double.PositiveInfinity, (a, x) => double.IsNaN(a) || double.IsNaN(x) ? double.NaN : Math.Min(a, x),
        t => t == DataType.UInt64 ? -1 : long.MaxValue,
        (a, x, t) => t == DataType.UInt64 ? (long)Math.Min((ulong)a, (ulong)x) : Math.Min(a, x));
}

public static partial class TypedOps
{
    /// <summary>
    /// <paramref name="reduction"/> of <paramref name="x"/> along <paramref name="axis"/> (kept as size 1 when
    /// <paramref name="keepDim"/>).
    /// </summary>
    internal static Tensor ReduceAxis(string op, Tensor x, int axis, bool keepDim, TypedReduction reduction)
    {
        var type = x.DataType;
        if (type == DataType.Bool) throw new CondenseException($"{op} is not defined for bool tensors");
        int length = x.Shape[axis];
        int inner = 1;
        for (int d = axis + 1; d < x.Rank; d++) inner *= x.Shape[d];
        int outer = x.Shape.Take(axis).Aggregate(1, (a, d) => a * d);
        int[] shape = keepDim
            ? [.. x.Shape.Select((d, i) => i == axis ? 1 : d)]
            : [.. x.Shape.Where((_, i) => i != axis)];
        var y = Tensor.Allocate(type, shape);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int first = o * length * inner + i, at = o * inner + i;
                switch (type.Storage())
                {
                    case TensorStorage.Single:
                        y.SingleData[at] = type.Round((float)Fold(x.SingleData, first, length, inner, reduction));
                        break;
                    case TensorStorage.Double:
                        y.Float64Data[at] = Fold(x.Float64Data, first, length, inner, reduction);
                        break;
                    default:
                        long value = reduction.IntegerSeed(type);
                        var data = x.Int64Data;
                        for (int k = 0; k < length; k++) value = reduction.Integer(value, data[first + k * inner], type);
                        y.Int64Data[at] = type.Wrap(value);
                        break;
                }
            }
        return y;
    }

    private static double Fold(float[] data, int first, int length, int stride, TypedReduction reduction)
    {
        double value = reduction.Seed;
        for (int k = 0; k < length; k++) value = reduction.Float(value, data[first + k * stride]);
        return value;
    }

    private static double Fold(double[] data, int first, int length, int stride, TypedReduction reduction)
    {
        double value = reduction.Seed;
        for (int k = 0; k < length; k++) value = reduction.Float(value, data[first + k * stride]);
        return value;
    }
}
