// Splits a row of floats into its even and odd elements, eight pairs per step: a pair read as one 64-bit
// lane keeps the even element in the low half, so narrowing the lanes to 32 bits keeps the evens and
// narrowing them shifted right by 32 keeps the odds. Used by the stride-2 image copies of the direct
// convolution (Conv2dDirect.CopyImage) and the strided 1×1 convolution (Conv2dPointwiseStrided).
using System.Runtime.Intrinsics;

namespace Condense.Kernels.Conv;

/// <summary>Even/odd split of a float row, vectorised.</summary>
internal static unsafe class StrideTwoSplit
{
    /// <summary>evens[j] = src[2j] for 2j &lt; count; odds[j] = src[2j + 1] for 2j + 1 &lt; count (odds may be null).</summary>
    public static void Split(float* src, int count, float* evens, float* odds)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; 2 * j + 16 <= count; j += 8)
            {
                var low = Vector256.Load((ulong*)(src + 2 * j));
                var high = Vector256.Load((ulong*)(src + 2 * j + 8));
                Vector256.Narrow(low, high).AsSingle().Store(evens + j);
                if (odds != null) Vector256.Narrow(low >> 32, high >> 32).AsSingle().Store(odds + j);
            }
            // Rows of 8 to 15 values (ResNet's 14-wide stages) in runs of four pairs, the last run overlapping the one before
            // when the row is even (it writes the same values again), so no row is left mostly to the scalar loop.
            if (2 * j + 8 <= count)
            {
                for (; 2 * j + 8 <= count; j += 4) FourPairs(src + 2 * j, evens + j, odds is null ? null : odds + j);
                if (count % 2 == 0 && 2 * j < count) { j = count / 2 - 4; FourPairs(src + 2 * j, evens + j, odds is null ? null : odds + j); j += 4; }
            }
        }
        for (; 2 * j < count; j++)
        {
            evens[j] = src[2 * j];
            if (odds != null && 2 * j + 1 < count) odds[j] = src[2 * j + 1];
        }
    }

    // evens[0..4) = src[0, 2, 4, 6], odds[0..4) = src[1, 3, 5, 7]: one permute puts the evens in the low half.
    private static void FourPairs(float* src, float* evens, float* odds)
    {
        var split = Vector256.Shuffle(Vector256.Load(src), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
        split.GetLower().Store(evens);
        if (odds != null) split.GetUpper().Store(odds);
    }
}
