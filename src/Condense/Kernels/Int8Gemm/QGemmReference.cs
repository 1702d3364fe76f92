// The specification of QGemm: the naive loop in int64, written for clarity, not speed. Tests and the
// benchmark compare every kernel path against it, exactly.
namespace Condense.Kernels.Int8Gemm;

/// <summary>Naive int8 Linear with exactly the contract of <see cref="QGemm"/>.</summary>
internal static class QGemmReference
{
    /// <summary>acc[i, o] = Σ_k (x[i, k] − zx)·w[o, k] + bias[o], summed in int64 and cast (wrapping) to int32.</summary>
    public static void LinearForward(int m, int n, int k, ReadOnlySpan<byte> x, byte xZeroPoint,
        ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, Span<int> acc)
    {
        // x is (m, k), w is (n, k) — the Linear layout [out, in] — and acc is (m, n).
        for (int i = 0; i < m; i++)
            for (int o = 0; o < n; o++)
            {
                long sum = bias.IsEmpty ? 0 : bias[o];
                for (int p = 0; p < k; p++) sum += (long)(x[i * k + p] - xZeroPoint) * w[o * k + p];
                acc[i * n + o] = unchecked((int)sum);
            }
    }

    /// <summary>y[i, o] = clamp(zy + MultiplyByQuantizedMultiplier(acc[i, o], multiplier[o], shift[o]), qmin, qmax).</summary>
    public static void LinearForwardRequantized(int m, int n, int k, ReadOnlySpan<byte> x, byte xZeroPoint,
        ReadOnlySpan<sbyte> w, ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        byte yZeroPoint, byte qmin, byte qmax, Span<byte> y)
    {
        var acc = new int[m * n];
        LinearForward(m, n, k, x, xZeroPoint, w, bias, acc);
        for (int i = 0; i < m * n; i++)
        {
            long v = yZeroPoint + (long)Requantize.MultiplyByQuantizedMultiplier(acc[i], multiplier[i % n], shift[i % n]);
            y[i] = (byte)Math.Clamp(v, qmin, qmax);
        }
    }
}
