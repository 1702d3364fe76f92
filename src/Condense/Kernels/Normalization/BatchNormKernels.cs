// Batch normalisation over (N, C, S) float32 data, S the product of the spatial dimensions (1 for a
// (N, C) input): per-channel statistics, the per-channel affine y = x·scale + shift that both modes
// reduce to, and the backward passes. Formulas from Ioffe & Szegedy 2015 ("Batch Normalization"), §3.
// Every pass reads each row once (Kernels/Normalization/BatchNormRows.cs); the statistics are split between the threads
// by channel and the element-wise passes by (n, c) row, so one thread owns each channel's sums and the
// bits do not depend on the thread count.
using System.Numerics.Tensors;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Normalization;

/// <summary>Per-channel kernels for batch normalisation on (N, C, S) data.</summary>
public static class BatchNormKernels
{
    // Below this many elements a call stays on one thread.
    private const long ParallelThreshold = 1 << 15;

    /// <summary>
    /// The mean and biased variance (divided by N·S) of each channel of x, (N, C, S). The variance is
    /// taken about the mean (two passes), so a large mean costs no precision; each (n, c) row is summed
    /// in float lanes and the rows' sums are added in double.
    /// </summary>
    public static void Statistics(float[] x, int n, int c, int s, Span<float> mean, Span<float> variance)
    {
        CheckShape(x.Length, n, c, s);
        double count = (double)n * s;
        var means = new float[c];
        var variances = new float[c];
        var path = Cpu.Active;
        ParallelRanges.For(c, x.Length, ParallelThreshold, (first, last) =>
        {
            for (int ch = first; ch < last; ch++)
            {
                double sum = 0;
                for (int b = 0; b < n; b++) sum += TensorPrimitives.Sum(x.AsSpan((b * c + ch) * s, s));
                float m = (float)(sum / count);
                double squares = 0;
                for (int b = 0; b < n; b++) squares += BatchNormRows.SquaredDeviations(x.AsSpan((b * c + ch) * s, s), m, path);
                means[ch] = m;
                variances[ch] = (float)(squares / count);
            }
        });
        means.CopyTo(mean);
        variances.CopyTo(variance);
    }

    /// <summary>
    /// y[b, ch, :] = x[b, ch, :] · scale[ch] + shift[ch], then max(·, 0) with <paramref name="relu"/>; x and y are (N, C, S) and
    /// may be the same.
    /// </summary>
    public static void Affine(float[] x, float[] y, int n, int c, int s, float[] scale, float[] shift, bool relu = false)
    {
        CheckShape(x.Length, n, c, s);
        CheckShape(y.Length, n, c, s);
        var path = Cpu.Active;
        ParallelRanges.For(n * c, x.Length, ParallelThreshold, (first, last) =>
        {
            for (int row = first; row < last; row++)
                BatchNormRows.Affine(x.AsSpan(row * s, s), y.AsSpan(row * s, s), scale[row % c], shift[row % c], path, relu);
        });
    }

    /// <summary>
    /// Per channel: sumG[ch] = Σ gy and sumGCentered[ch] = Σ gy·(x − mean[ch]), over the batch and the
    /// spatial positions. Then ∂L/∂β = sumG and ∂L/∂γ = sumGCentered / √(var + ε).
    /// </summary>
    public static void GradientSums(float[] gy, float[] x, int n, int c, int s, float[] mean, float[] sumG, float[] sumGCentered)
    {
        CheckShape(x.Length, n, c, s);
        CheckShape(gy.Length, n, c, s);
        var path = Cpu.Active;
        ParallelRanges.For(c, x.Length, ParallelThreshold, (first, last) =>
        {
            for (int ch = first; ch < last; ch++)
            {
                double g = 0, gx = 0;
                for (int b = 0; b < n; b++)
                {
                    int offset = (b * c + ch) * s;
                    var (rowG, rowGx) = BatchNormRows.GradientSums(gy.AsSpan(offset, s), x.AsSpan(offset, s), mean[ch], path);
                    g += rowG;
                    gx += rowGx;
                }
                sumG[ch] = (float)g;
                sumGCentered[ch] = (float)gx;
            }
        });
    }

    /// <summary>
    /// The input gradient in training mode, through the batch statistics (M = N·S, x̂ = (x − μ)/σ):
    /// ∂L/∂x = γ/σ · (gy − sumG/M − x̂ · Σ(gy·x̂)/M), with σ = √(var + ε) and Σ(gy·x̂) = sumGCentered/σ.
    /// Writes (not adds) <paramref name="gx"/>.
    /// </summary>
    public static void TrainingInputGradient(float[] gy, float[] x, float[] gx, int n, int c, int s,
        float[] mean, float[] invStd, float[]? gamma, float[] sumG, float[] sumGCentered)
    {
        CheckShape(x.Length, n, c, s);
        float count = (float)n * s;
        var gyScale = new float[c];
        var xScale = new float[c];
        var constant = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            float k = (gamma?[ch] ?? 1f) * invStd[ch];
            float meanG = sumG[ch] / count;
            // x̂ · Σ(gy·x̂)/M = (x − μ) · σ⁻² · sumGCentered / M
            float slope = invStd[ch] * invStd[ch] * sumGCentered[ch] / count;
            // gx = k·gy − k·slope·x + k·(μ·slope − meanG): one pass over gy and x.
            gyScale[ch] = k;
            xScale[ch] = -k * slope;
            constant[ch] = k * (mean[ch] * slope - meanG);
        }
        var path = Cpu.Active;
        ParallelRanges.For(n * c, x.Length, ParallelThreshold, (first, last) =>
        {
            for (int row = first; row < last; row++)
            {
                int ch = row % c;
                BatchNormRows.Combine(gy.AsSpan(row * s, s), x.AsSpan(row * s, s), gx.AsSpan(row * s, s), gyScale[ch], xScale[ch], constant[ch], path);
            }
        });
    }

    private static void CheckShape(int length, int n, int c, int s)
    {
        if (length != n * c * s) throw new ArgumentException($"data has {length} elements, expected {n}×{c}×{s}");
    }
}
