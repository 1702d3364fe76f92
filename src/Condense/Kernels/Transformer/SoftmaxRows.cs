// Softmax (or log-softmax) of contiguous rows — the attention probabilities softmax(QKᵀ/√d + mask) of a
// transformer, [batch, heads, L, L] along the last axis — on vectorised span primitives, rows split between threads.
// Each row: m = max x, e = exp(x − m), y = e / Σe (log: y = x − m − ln Σe). The reference (Tensor.SoftmaxCore's
// loop over any axis) sums in double; this one sums in float, which differs by rounding only. A row with every
// entry −∞ (a fully masked row) gives NaN, as the reference does.
using System.Numerics.Tensors;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>Softmax along contiguous rows.</summary>
internal static class SoftmaxRows
{
    /// <summary>Elements below which one thread does every row.</summary>
    private const long ParallelElements = 1 << 15;

    /// <summary>y[r, :] = softmax(x[r, :]) (or log-softmax) for <paramref name="rows"/> rows of <paramref name="width"/>.</summary>
    public static void Forward(float[] x, float[] y, int rows, int width, bool log)
    {
        ParallelRanges.For(rows, (long)rows * width, ParallelElements, (first, last) =>
        {
            for (int r = first; r < last; r++) Row(x.AsSpan(r * width, width), y.AsSpan(r * width, width), log);
        });
    }

    private static void Row(ReadOnlySpan<float> x, Span<float> y, bool log)
    {
        if (x.Length == 0) return;
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        if (log)
        {
            // ln Σ e^(x − m) without keeping the exponentials: they go through a stack buffer in chunks.
            Span<float> chunk = stackalloc float[256];
            float sum = 0f;
            for (int i = 0; i < y.Length; i += chunk.Length)
            {
                var part = y.Slice(i, Math.Min(chunk.Length, y.Length - i));
                TensorPrimitives.Exp(part, chunk[..part.Length]);
                sum += TensorPrimitives.Sum(chunk[..part.Length]);
            }
            TensorPrimitives.Subtract(y, MathF.Log(sum), y);
            return;
        }
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Multiply(y, 1f / TensorPrimitives.Sum(y), y);
    }
}
