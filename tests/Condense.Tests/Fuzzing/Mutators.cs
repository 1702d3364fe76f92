// Seeded mutations of a valid file's bytes for the reader fuzz tests and `bench fuzz`: generic ones (bit
// flips, random runs, truncation, chunk duplication and deletion) and helpers the format-aware mutators
// build on (numbers in text set to extreme values, varints re-encoded). Everything draws from one
// System.Random, so a case seed reproduces its file exactly. Linked into the bench project as source.
using System.Text;

namespace Condense.Fuzzing;

/// <summary>A mutation: the seeded random source and the file's bytes in, the mutated bytes out.</summary>
public delegate byte[] Mutator(Random rng, byte[] data);

/// <summary>Generic byte-level mutations and the shared helpers of the format-aware ones.</summary>
public static class Mutators
{
    /// <summary>Values that break size arithmetic: zero, one, sign boundaries, powers of two near the int and long limits.</summary>
    public static readonly long[] Interesting =
    [
        0, 1, 2, 7, 8, 255, 256, 65535, 65536, -1, -2, int.MaxValue, int.MinValue, (long)int.MaxValue + 1, uint.MaxValue,
        1L << 40, long.MaxValue, long.MinValue, 1_000_000_000, 99_999_999, 3_000_000_000,
    ];

    /// <summary>The generic mutations every reader gets.</summary>
    public static readonly Mutator[] Generic = [FlipBits, SetBytes, RandomRun, Truncate, DuplicateChunk, DeleteChunk, InsertRandom];

    /// <summary>Flips 1 to 8 random bits.</summary>
    public static byte[] FlipBits(Random rng, byte[] data)
    {
        if (data.Length == 0) return data;
        var d = (byte[])data.Clone();
        for (int n = rng.Next(1, 9); n > 0; n--) d[rng.Next(d.Length)] ^= (byte)(1 << rng.Next(8));
        return d;
    }

    /// <summary>Sets 1 to 4 random bytes to a boundary value (0, 0xFF, 0x7F, 0x80) or a random one.</summary>
    public static byte[] SetBytes(Random rng, byte[] data)
    {
        if (data.Length == 0) return data;
        var d = (byte[])data.Clone();
        byte[] special = [0x00, 0xFF, 0x7F, 0x80];
        for (int n = rng.Next(1, 5); n > 0; n--)
            d[rng.Next(d.Length)] = rng.Next(2) == 0 ? special[rng.Next(special.Length)] : (byte)rng.Next(256);
        return d;
    }

    /// <summary>Overwrites a run of 1 to 64 bytes with random bytes.</summary>
    public static byte[] RandomRun(Random rng, byte[] data)
    {
        if (data.Length == 0) return data;
        var d = (byte[])data.Clone();
        int start = rng.Next(d.Length), length = Math.Min(rng.Next(1, 65), d.Length - start);
        rng.NextBytes(d.AsSpan(start, length));
        return d;
    }

    /// <summary>Cuts the file at a random point, biased toward the start where the headers are.</summary>
    public static byte[] Truncate(Random rng, byte[] data)
    {
        int cut = rng.Next(2) == 0 ? rng.Next(Math.Min(data.Length, 512) + 1) : rng.Next(data.Length + 1);
        return data[..cut];
    }

    /// <summary>Copies a chunk of the file to another position (inserted, not overwritten).</summary>
    public static byte[] DuplicateChunk(Random rng, byte[] data)
    {
        if (data.Length == 0) return data;
        int start = rng.Next(data.Length), length = Math.Min(rng.Next(1, 257), data.Length - start);
        return Splice(data, rng.Next(data.Length + 1), 0, data.AsSpan(start, length));
    }

    /// <summary>Deletes a chunk of 1 to 256 bytes.</summary>
    public static byte[] DeleteChunk(Random rng, byte[] data)
    {
        if (data.Length == 0) return data;
        int start = rng.Next(data.Length);
        return Splice(data, start, Math.Min(rng.Next(1, 257), data.Length - start), []);
    }

    /// <summary>Inserts 1 to 32 random bytes.</summary>
    public static byte[] InsertRandom(Random rng, byte[] data)
    {
        var bytes = new byte[rng.Next(1, 33)];
        rng.NextBytes(bytes);
        return Splice(data, rng.Next(data.Length + 1), 0, bytes);
    }

    /// <summary><paramref name="data"/> with <paramref name="remove"/> bytes at <paramref name="at"/> replaced by <paramref name="insert"/>.</summary>
    public static byte[] Splice(byte[] data, int at, int remove, ReadOnlySpan<byte> insert)
    {
        var d = new byte[data.Length - remove + insert.Length];
        data.AsSpan(0, at).CopyTo(d);
        insert.CopyTo(d.AsSpan(at));
        data.AsSpan(at + remove).CopyTo(d.AsSpan(at + insert.Length));
        return d;
    }

    /// <summary>An interesting value, or one near it (±1), or a small random one.</summary>
    public static long PickNumber(Random rng) => rng.Next(4) switch
    {
        0 => rng.Next(-3, 1000),
        1 => Interesting[rng.Next(Interesting.Length)] + rng.Next(-1, 2),
        _ => Interesting[rng.Next(Interesting.Length)],
    };

    /// <summary>
    /// In the text region [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="data"/>, replaces a
    /// random run of digits (with its minus sign) by <paramref name="replacement"/>; returns the new bytes and the
    /// change in length, or null when the region holds no number.
    /// </summary>
    public static (byte[] Data, int Delta)? ReplaceNumber(Random rng, byte[] data, int start, int end, string replacement)
    {
        var runs = new List<(int Start, int Length)>();
        for (int i = start; i < end; i++)
        {
            if (!char.IsAsciiDigit((char)data[i])) continue;
            int s = i > start && data[i - 1] == '-' ? i - 1 : i;
            while (i < end && char.IsAsciiDigit((char)data[i])) i++;
            runs.Add((s, i - s));
        }
        if (runs.Count == 0) return null;
        var (at, length) = runs[rng.Next(runs.Count)];
        var bytes = Encoding.ASCII.GetBytes(replacement);
        return (Splice(data, at, length, bytes), bytes.Length - length);
    }

    /// <summary>
    /// In the text region [<paramref name="start"/>, <paramref name="end"/>), replaces a random occurrence of one of
    /// <paramref name="words"/> by a random one of <paramref name="replacements"/>; null when none occurs.
    /// </summary>
    public static (byte[] Data, int Delta)? ReplaceWord(Random rng, byte[] data, int start, int end, string[] words, string[] replacements)
    {
        var hits = new List<(int At, int Length)>();
        var span = data.AsSpan(start, end - start);
        foreach (var w in words)
        {
            var word = Encoding.ASCII.GetBytes(w);
            for (int i = span.IndexOf(word); i >= 0; i = NextIndex(span, word, i + 1)) hits.Add((start + i, word.Length));
        }
        if (hits.Count == 0) return null;
        var (at, length) = hits[rng.Next(hits.Count)];
        var bytes = Encoding.ASCII.GetBytes(replacements[rng.Next(replacements.Length)]);
        return (Splice(data, at, length, bytes), bytes.Length - length);
    }

    private static int NextIndex(ReadOnlySpan<byte> span, byte[] word, int from)
    {
        if (from >= span.Length) return -1;
        int i = span[from..].IndexOf(word);
        return i < 0 ? -1 : from + i;
    }

    /// <summary>The protobuf varint encoding of <paramref name="value"/> (a negative value takes ten bytes, as int64 fields do).</summary>
    public static byte[] Varint(long value)
    {
        var bytes = new List<byte>();
        ulong v = (ulong)value;
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            bytes.Add(v != 0 ? (byte)(b | 0x80) : b);
        } while (v != 0);
        return [.. bytes];
    }
}
