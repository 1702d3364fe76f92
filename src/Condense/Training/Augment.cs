// Data augmentation for small images: random translations by up to k pixels, zero-filled, the
// standard cheap augmentation for MNIST-like data (Simard et al. 2003 use elastic distortions; shifts
// are the simplest member of that family).
using Condense.Tensors;

namespace Condense.Training;

/// <summary>Random input transformations applied during training only.</summary>
public static class Augment
{
    /// <summary>Shifts each (…, H, W) sample of a (N × features) batch by a random offset in [−k, k]².</summary>
    public static Tensor RandomShift(Tensor batch, int[] sampleShape, int k, Rng rng) => RandomShift(batch, sampleShape, k, rng, 0, batch.Shape[0]);

    /// <summary>
    /// Samples [start, start + count) of <see cref="RandomShift(Tensor, int[], int, Rng)"/>'s result: the offsets of the whole
    /// batch are drawn (so <paramref name="rng"/> ends where it would), only those samples are shifted. A data-parallel rank
    /// augments its own share of a batch this way, with the draws of one process.
    /// </summary>
    internal static Tensor RandomShift(Tensor batch, int[] sampleShape, int k, Rng rng, int start, int count)
    {
        int n = batch.Shape[0], size = n == 0 ? 0 : batch.Size / n;
        var shape = (int[])batch.Shape.Clone();
        shape[0] = count;
        if (sampleShape.Length < 2) // not an image: unchanged
            return start == 0 && count == n ? batch : new Tensor(batch.Data.AsSpan(start * size, count * size).ToArray(), shape);
        int h = sampleShape[^2], w = sampleShape[^1], planes = size / (h * w);
        var result = Tensor.Zeros(shape);
        for (int s = 0; s < n; s++)
        {
            int dy = rng.NextInt(2 * k + 1) - k, dx = rng.NextInt(2 * k + 1) - k;
            if (s < start || s >= start + count) continue;
            for (int p = 0; p < planes; p++)
            {
                int from = s * size + p * h * w, to = (s - start) * size + p * h * w;
                int x0 = Math.Max(0, dx), x1 = Math.Min(w, w + dx);
                for (int y = Math.Max(0, dy); y < Math.Min(h, h + dy); y++)
                    batch.Data.AsSpan(from + (y - dy) * w + (x0 - dx), x1 - x0).CopyTo(result.Data.AsSpan(to + y * w + x0, x1 - x0));
            }
        }
        return result;
    }
}
