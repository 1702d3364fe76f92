// Batch normalisation over (N, C, S) float32 data, S the product of the spatial dimensions (1 for a
// (N, C) input): per-channel statistics, the per-channel affine y = x·scale + shift that both modes
// reduce to, and the backward passes. Formulas from Ioffe & Szegedy 2015 ("Batch Normalization"), §3.
using System.Numerics.Tensors;

namespace Condense.Kernels;

/// <summary>Per-channel kernels for batch normalisation on (N, C, S) data.</summary>
public static class BatchNormKernels
{
    /// <summary>
    /// The mean and biased variance (divided by N·S) of each channel of x, (N, C, S). The variance is
    /// taken about the mean (two passes), so a large mean costs no precision; each (n, c) row is summed
    /// with TensorPrimitives and the rows' sums are added in double.
    /// </summary>
    public static void Statistics(ReadOnlySpan<float> x, int n, int c, int s, Span<float> mean, Span<float> variance)
    {
        CheckShape(x.Length, n, c, s);
        double count = (double)n * s;
        var centered = System.Buffers.ArrayPool<float>.Shared.Rent(s);
        try
        {
            for (int ch = 0; ch < c; ch++)
            {
                double sum = 0;
                for (int b = 0; b < n; b++) sum += TensorPrimitives.Sum(x.Slice((b * c + ch) * s, s));
                float m = (float)(sum / count);
                double squares = 0;
                for (int b = 0; b < n; b++)
                {
                    var row = centered.AsSpan(0, s);
                    TensorPrimitives.Subtract(x.Slice((b * c + ch) * s, s), m, row);
                    squares += TensorPrimitives.SumOfSquares(row);
                }
                mean[ch] = m;
                variance[ch] = (float)(squares / count);
            }
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(centered); }
    }

    /// <summary>y[b, ch, :] = x[b, ch, :] · scale[ch] + shift[ch]; x and y are (N, C, S) and may be the same.</summary>
    public static void Affine(ReadOnlySpan<float> x, Span<float> y, int n, int c, int s, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        CheckShape(x.Length, n, c, s);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                int offset = (b * c + ch) * s;
                var dst = y.Slice(offset, s);
                TensorPrimitives.Multiply(x.Slice(offset, s), scale[ch], dst);
                TensorPrimitives.Add(dst, shift[ch], dst);
            }
    }

    /// <summary>
    /// Per channel: sumG[ch] = Σ gy and sumGCentered[ch] = Σ gy·(x − mean[ch]), over the batch and the
    /// spatial positions. Then ∂L/∂β = sumG and ∂L/∂γ = sumGCentered / √(var + ε).
    /// </summary>
    public static void GradientSums(ReadOnlySpan<float> gy, ReadOnlySpan<float> x, int n, int c, int s, ReadOnlySpan<float> mean,
        Span<float> sumG, Span<float> sumGCentered)
    {
        CheckShape(x.Length, n, c, s);
        var centered = System.Buffers.ArrayPool<float>.Shared.Rent(s);
        try
        {
            var row = centered.AsSpan(0, s);
            for (int ch = 0; ch < c; ch++)
            {
                double g = 0, gx = 0;
                for (int b = 0; b < n; b++)
                {
                    int offset = (b * c + ch) * s;
                    var gyRow = gy.Slice(offset, s);
                    TensorPrimitives.Subtract(x.Slice(offset, s), mean[ch], row);
                    g += TensorPrimitives.Sum(gyRow);
                    gx += TensorPrimitives.Dot(gyRow, row);
                }
                sumG[ch] = (float)g;
                sumGCentered[ch] = (float)gx;
            }
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(centered); }
    }

    /// <summary>
    /// The input gradient in training mode, through the batch statistics (M = N·S, x̂ = (x − μ)/σ):
    /// ∂L/∂x = γ/σ · (gy − sumG/M − x̂ · Σ(gy·x̂)/M), with σ = √(var + ε) and Σ(gy·x̂) = sumGCentered/σ.
    /// Writes (not adds) <paramref name="gx"/>.
    /// </summary>
    public static void TrainingInputGradient(ReadOnlySpan<float> gy, ReadOnlySpan<float> x, Span<float> gx, int n, int c, int s,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> sumG, ReadOnlySpan<float> sumGCentered)
    {
        CheckShape(x.Length, n, c, s);
        float count = (float)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            float k = gamma[ch] * invStd[ch];
            float meanG = sumG[ch] / count;
            // x̂ · Σ(gy·x̂)/M = (x − μ) · σ⁻² · sumGCentered / M
            float slope = invStd[ch] * invStd[ch] * sumGCentered[ch] / count;
            // gx = k·gy − k·slope·x + k·(μ·slope − meanG), one multiply and one fused multiply-add per row.
            float xScale = -k * slope, constant = k * (mean[ch] * slope - meanG);
            for (int b = 0; b < n; b++)
            {
                int offset = (b * c + ch) * s;
                var row = gx.Slice(offset, s);
                TensorPrimitives.Multiply(gy.Slice(offset, s), k, row);
                TensorPrimitives.MultiplyAdd(x.Slice(offset, s), xScale, row, row);
                TensorPrimitives.Add(row, constant, row);
            }
        }
    }

    private static void CheckShape(int length, int n, int c, int s)
    {
        if (length != n * c * s) throw new ArgumentException($"data has {length} elements, expected {n}×{c}×{s}");
    }
}
