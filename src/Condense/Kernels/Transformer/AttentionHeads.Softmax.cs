// The softmax of one row of attention scores, with the bias row added, as AttentionHeads runs it: three passes over a row
// in L1 — the bias added and the maximum found, e^(x − max) on ExpKernel's lanes and its sum, the division — written out on
// vectors, since a row is short (L = 128: 8 vectors) and a span primitive's call costs as much as its work there. The maximum
// is taken with the processor's max (MaxNative), one instruction where the IEEE maximum (Vector512.Max) is three on a chain
// that the row's vectors wait on (a tenth of the softmax's time at L = 128, measured): it may drop a NaN, but a NaN score makes
// the row's sum NaN, so the row comes out NaN as with the IEEE maximum; for ±0 both give the same e^(x − max). The
// Scalar path's row sums in double.
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

internal static unsafe partial class AttentionHeads
{
    // row = softmax(row + bias), the bias a row (column stride 1) or one value (stride 0).
    internal static void SoftmaxRow(KernelPath path, Span<float> row, float* bias, long biasColumn)
    {
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated) SoftmaxRow512(row, bias, biasColumn);
        else SoftmaxRow256(row, bias, biasColumn);
    }

    private static void SoftmaxRow512(Span<float> row, float* bias, long biasColumn)
    {
        int n = row.Length, vectorEnd = n / 16 * 16, j;
        fixed (float* x = row)
        {
            float max = float.NegativeInfinity, sum = 0f;
            var maxima = Vector512.Create(float.NegativeInfinity);
            for (j = 0; j < vectorEnd; j += 16)
            {
                var v = Vector512.Load(x + j);
                if (bias is not null) v += biasColumn == 0 ? Vector512.Create(*bias) : Vector512.Load(bias + j);
                v.Store(x + j);
                maxima = Vector512.MaxNative(maxima, v);
            }
            for (; j < n; j++) max = Math.Max(max, x[j] += bias is null ? 0f : bias[j * biasColumn]);
            max = Math.Max(max, Max(Vector256.MaxNative(maxima.GetLower(), maxima.GetUpper())));
            var sums = Vector512<float>.Zero;
            for (j = 0; j < vectorEnd; j += 16)
            {
                var e = ExpKernel.Exp(Vector512.Load(x + j) - Vector512.Create(max));
                e.Store(x + j);
                sums += e;
            }
            sum = Vector512.Sum(sums);
            for (; j < n; j++) sum += x[j] = ExpKernel.Exp(x[j] - max);
            float inverse = 1f / sum;
            for (j = 0; j < vectorEnd; j += 16) (Vector512.Load(x + j) * inverse).Store(x + j);
            for (; j < n; j++) x[j] *= inverse;
        }
    }

    private static void SoftmaxRow256(Span<float> row, float* bias, long biasColumn)
    {
        int n = row.Length, vectorEnd = n / 8 * 8, j;
        fixed (float* x = row)
        {
            float max = float.NegativeInfinity, sum = 0f;
            var maxima = Vector256.Create(float.NegativeInfinity);
            for (j = 0; j < vectorEnd; j += 8)
            {
                var v = Vector256.Load(x + j);
                if (bias is not null) v += biasColumn == 0 ? Vector256.Create(*bias) : Vector256.Load(bias + j);
                v.Store(x + j);
                maxima = Vector256.MaxNative(maxima, v);
            }
            for (; j < n; j++) max = Math.Max(max, x[j] += bias is null ? 0f : bias[j * biasColumn]);
            max = Math.Max(max, Max(maxima));
            var sums = Vector256<float>.Zero;
            for (j = 0; j < vectorEnd; j += 8)
            {
                var e = ExpKernel.Exp(Vector256.Load(x + j) - Vector256.Create(max));
                e.Store(x + j);
                sums += e;
            }
            sum = Vector256.Sum(sums);
            for (; j < n; j++) sum += x[j] = ExpKernel.Exp(x[j] - max);
            float inverse = 1f / sum;
            for (j = 0; j < vectorEnd; j += 8) (Vector256.Load(x + j) * inverse).Store(x + j);
            for (; j < n; j++) x[j] *= inverse;
        }
    }

    // The largest lane by halving (MaxNative: a NaN lane may be dropped, which the row's sum, NaN with it, makes moot).
    private static float Max(Vector256<float> v)
    {
        var m = Vector128.MaxNative(v.GetLower(), v.GetUpper());
        m = Vector128.MaxNative(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        return Math.Max(m.ToScalar(), m.GetElement(1));
    }

    // The softmax with its sum in double: the Scalar path's row.
    internal static void ReferenceRow(Span<float> row, float* bias, long biasColumn)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < row.Length; j++)
        {
            if (bias is not null) row[j] += bias[j * biasColumn];
            max = Math.Max(max, row[j]);
        }
        double sum = 0;
        for (int j = 0; j < row.Length; j++) sum += row[j] = MathF.Exp(row[j] - max);
        for (int j = 0; j < row.Length; j++) row[j] = (float)(row[j] / sum);
    }
}
