// ONNX Cast between every pair of element types. Float to integer truncates toward zero and then wraps to the
// target's width, as ONNX Runtime's static_cast does on x86 for values in int64's range (NaN and values beyond
// it are undefined in ONNX; here they become 0 and the saturated int64). Integer to integer wraps, anything
// to bool tests for non-zero, to float16/bfloat16 rounds to nearest even. Float32 → float32/float16/bfloat16
// keeps a straight-through gradient (Ops.Onnx's rounding trick); every other cast has none.
namespace Condense.Tensors;

public static partial class TypedOps
{
    /// <summary>The tensor converted to <paramref name="to"/> (the same tensor when it already has that type).</summary>
    public static Tensor Cast(Tensor x, DataType to)
    {
        if (x.DataType == to) return x;
        var shape = x.Shape;
        int n = x.Size;
        switch (to.Storage())
        {
            case TensorStorage.Single:
            {
                var values = new float[n];
                if (x.DataType.Storage() == TensorStorage.Int64 && x.DataType != DataType.UInt64)
                    for (int i = 0; i < n; i++) values[i] = x.Int64Data[i];
                else
                    for (int i = 0; i < n; i++) values[i] = (float)x.GetDouble(i);
                if (to == DataType.Float32 && x.DataType is DataType.Float16 or DataType.BFloat16) return new Tensor(values, shape);
                return Tensor.FromFloats(values, to, shape);
            }
            case TensorStorage.Double:
            {
                var values = new double[n];
                for (int i = 0; i < n; i++) values[i] = x.GetDouble(i);
                return Tensor.FromDoubles(values, shape);
            }
            default:
            {
                var values = new long[n];
                if (to == DataType.Bool)
                    for (int i = 0; i < n; i++) values[i] = x.GetDouble(i) != 0 || x.DataType.Storage() == TensorStorage.Int64 && x.Int64Data[i] != 0 ? 1 : 0;
                else if (x.DataType.Storage() == TensorStorage.Int64)
                    Array.Copy(x.Int64Data, values, n);
                else
                    for (int i = 0; i < n; i++) values[i] = Truncate(x.GetDouble(i), to);
                return Tensor.FromInt64s(values, to, shape);
            }
        }
    }

    // A float truncated toward zero, as an integer of the target's bits (uint64 beyond int64 through ulong).
    private static long Truncate(double v, DataType to)
    {
        if (double.IsNaN(v)) return 0;
        double t = Math.Truncate(v);
        if (to == DataType.UInt64 && t >= 9.2233720368547758e18) return t >= 1.8446744073709552e19 ? -1 : (long)(ulong)t;
        return t >= 9.2233720368547758e18 ? long.MaxValue : t <= -9.2233720368547758e18 ? long.MinValue : (long)t;
    }
}
