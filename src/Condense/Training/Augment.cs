// Data augmentation for small images: random translations by up to k pixels, zero-filled, the
// standard cheap augmentation for MNIST-like data (Simard et al. 2003 use elastic distortions; shifts
// are the simplest member of that family).
using Condense.Tensors;

namespace Condense.Training;

/// <summary>Random input transformations applied during training only.</summary>
public static class Augment
{
    /// <summary>Shifts each (…, H, W) sample of a (N × features) batch by a random offset in [−k, k]².</summary>
    public static Tensor RandomShift(Tensor batch, int[] sampleShape, int k, Rng rng)
    {
        if (sampleShape.Length < 2) return batch; // not an image
        int h = sampleShape[^2], w = sampleShape[^1], planes = batch.Size / batch.Shape[0] / (h * w);
        var result = Tensor.Zeros(batch.Shape);
        int n = batch.Shape[0], size = planes * h * w;
        for (int s = 0; s < n; s++)
        {
            int dy = rng.NextInt(2 * k + 1) - k, dx = rng.NextInt(2 * k + 1) - k;
            for (int p = 0; p < planes; p++)
            {
                int offset = s * size + p * h * w;
                for (int y = Math.Max(0, dy); y < Math.Min(h, h + dy); y++)
                {
                    int x0 = Math.Max(0, dx), x1 = Math.Min(w, w + dx);
                    batch.Data.AsSpan(offset + (y - dy) * w + (x0 - dx), x1 - x0).CopyTo(result.Data.AsSpan(offset + y * w + x0, x1 - x0));
                }
            }
        }
        return result;
    }
}
