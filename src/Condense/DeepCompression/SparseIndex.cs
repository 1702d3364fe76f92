// The positions of a pruned tensor's kept weights as relative index gaps (Deep Compression §2, Fig. 2):
// instead of absolute column indices, store the distance from the previous kept weight in a few bits
// (the paper: 8 bits for conv layers, 5 bits for fc layers). Gaps run over the flattened, row-major
// tensor, so no row pointers are needed. A gap too long for its bits is bridged with filler codes.
namespace Condense.DeepCompression;

/// <summary>Relative-index (gap) coding of sparse positions.</summary>
/// <remarks>
/// Convention: with b bits, let M = 2^b − 1. Positions start from −1, so the first gap is position + 1 ≥ 1.
/// A gap g ≤ M is stored as the code g. A longer gap is stored as ⌊(g − 1) / M⌋ filler codes 0, each meaning
/// "advance M positions, no weight here", followed by the remainder (1..M). The paper's filler is a stored zero
/// weight with its own gap, which also costs a weight index; here a filler costs b bits of gap only.
/// </remarks>
public static class SparseIndex
{
    /// <summary>Gap bits the paper uses for convolution layers.</summary>
    public const int ConvGapBits = 8;

    /// <summary>Gap bits the paper uses for fully connected layers.</summary>
    public const int FcGapBits = 5;

    /// <summary>The gap codes of strictly increasing, non-negative <paramref name="positions"/> with <paramref name="bits"/> bits per code.</summary>
    public static int[] Encode(ReadOnlySpan<int> positions, int bits)
    {
        int max = MaxGap(bits);
        var codes = new List<int>(positions.Length);
        long previous = -1;
        foreach (int p in positions)
        {
            long gap = p - previous;
            if (p < 0 || gap < 1) throw new ArgumentException($"positions must be non-negative and strictly increasing, got {p} after {previous}");
            for (; gap > max; gap -= max) codes.Add(0);
            codes.Add((int)gap);
            previous = p;
        }
        return codes.ToArray();
    }

    /// <summary>The number of gap codes <see cref="Encode"/> would produce, without building them.</summary>
    public static long CodeCount(ReadOnlySpan<int> positions, int bits)
    {
        int max = MaxGap(bits);
        long count = 0, previous = -1;
        foreach (int p in positions) { count += (p - previous - 1) / max + 1; previous = p; }
        return count;
    }

    /// <summary>The positions that <paramref name="codes"/> (from <see cref="Encode"/>) stand for.</summary>
    public static int[] Decode(ReadOnlySpan<int> codes, int bits)
    {
        int max = MaxGap(bits);
        var positions = new List<int>(codes.Length);
        long position = -1;
        foreach (int c in codes)
        {
            if (c < 0 || c > max) throw new ArgumentException($"gap code {c} outside 0..{max}");
            if (c == 0) { position += max; continue; }
            position += c;
            if (position > int.MaxValue) throw new ArgumentException("gap codes run past the largest position");
            positions.Add((int)position);
        }
        return positions.ToArray();
    }

    /// <summary>The largest gap one code holds: 2^bits − 1.</summary>
    public static int MaxGap(int bits)
    {
        if (bits is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(bits), bits, "gap bits must be in 1..16");
        return (1 << bits) - 1;
    }
}
