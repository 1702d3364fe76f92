// Layer normalization of contiguous rows (Ba, Kiros & Hinton 2016; ONNX LayerNormalization-17 with axis −1): per row
// of width D, μ = Σx/D, σ² = Σ(x − μ)²/D, y = (x − μ)/√(σ² + ε)·γ + β, γ and β of length D. A transformer normalizes
// its residual stream [batch·tokens, hidden] twice per layer; the autograd form (and the ReduceMean/Sub/Pow/Sqrt/Div
// decomposition BERT exports write) makes six passes and five temporaries, this makes three passes over one row in
// cache. The vector path runs on span primitives; the reference (Scalar path) sums in double. Rows are split between
// threads and each row is computed by one thread, so the result does not depend on the thread count.
using System.Numerics.Tensors;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>LayerNormalization along contiguous rows.</summary>
internal static class LayerNormRows
{
    /// <summary>Elements below which one thread does every row.</summary>
    private const long ParallelElements = 1 << 14;

    /// <summary>
    /// y[r, :] = (x[r, :] − μ)/√(σ² + <paramref name="epsilon"/>)·scale + bias for <paramref name="rows"/> rows of
    /// scale.Length; <paramref name="bias"/> may be null (no shift). With <paramref name="skip"/> (x's shape) the rows
    /// normalized are x + skip (ONNX Runtime's SkipLayerNormalization: a residual Add and the norm after it in one pass).
    /// </summary>
    public static void Forward(float[] x, float[] y, int rows, float[] scale, float[]? bias, float epsilon, float[]? skip = null)
    {
        var path = Cpu.Active;
        int width = scale.Length;
        ParallelRanges.For(rows, (long)rows * width, ParallelElements, (first, last) =>
        {
            for (int r = first; r < last; r++)
            {
                ReadOnlySpan<float> input = x.AsSpan(r * width, width);
                var output = y.AsSpan(r * width, width);
                if (skip is not null)
                {
                    TensorPrimitives.Add(input, skip.AsSpan(r * width, width), output);
                    input = output;
                }
                if (path == KernelPath.Scalar) Reference(input, output, scale, bias, epsilon);
                else Row(input, output, scale, bias, epsilon);
            }
        });
    }

    private static void Row(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> scale, float[]? bias, float epsilon)
    {
        float mean = TensorPrimitives.Sum(x) / x.Length;
        TensorPrimitives.Subtract(x, mean, y);
        float deviation = MathF.Sqrt(TensorPrimitives.SumOfSquares(y) / x.Length + epsilon);
        TensorPrimitives.Divide(y, deviation, y);
        if (bias is null) TensorPrimitives.Multiply(y, scale, y);
        else TensorPrimitives.FusedMultiplyAdd(y, scale, bias, y);
    }

    /// <summary>One row with the moments summed in double: the reference the vector path is checked against.</summary>
    public static void Reference(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> scale, float[]? bias, float epsilon)
    {
        double sum = 0, squares = 0;
        foreach (float v in x) sum += v;
        float mean = (float)(sum / x.Length);
        foreach (float v in x) squares += (double)(v - mean) * (v - mean);
        float deviation = (float)Math.Sqrt(squares / x.Length + epsilon);
        for (int i = 0; i < x.Length; i++) y[i] = (x[i] - mean) / deviation * scale[i] + (bias is null ? 0f : bias[i]);
    }
}
