// Fixed-width bit packing of small non-negative integers (cluster indices, index gaps): value i occupies
// bits [i·b, (i+1)·b) of the stream, least significant bit first, and the stream fills each byte from its
// least significant bit. n values of b bits take ⌈n·b / 8⌉ bytes; the unused high bits of the last byte are 0.
namespace Condense.Kernels.Int8Gemm;

/// <summary>Packs integers into b bits each.</summary>
public static class BitPacking
{
    /// <summary>Bytes needed for <paramref name="count"/> values of <paramref name="bits"/> bits.</summary>
    public static long PackedBytes(long count, int bits) => (count * bits + 7) / 8;

    /// <summary>Packs <paramref name="values"/> (each in [0, 2^<paramref name="bits"/>)) into <paramref name="bits"/> bits each, 1 ≤ bits ≤ 32.</summary>
    public static byte[] Pack(ReadOnlySpan<int> values, int bits)
    {
        ValidateBits(bits);
        var packed = new byte[PackedBytes(values.Length, bits)];
        ulong limit = 1UL << bits;
        ulong buffer = 0;
        int filled = 0, o = 0;
        foreach (int v in values)
        {
            if (v < 0 || (ulong)v >= limit) throw new ArgumentOutOfRangeException(nameof(values), v, $"value does not fit in {bits} bits");
            buffer |= (ulong)v << filled;
            filled += bits;
            while (filled >= 8) { packed[o++] = (byte)buffer; buffer >>= 8; filled -= 8; }
        }
        if (filled > 0) packed[o] = (byte)buffer;
        return packed;
    }

    /// <summary>Unpacks <paramref name="count"/> values of <paramref name="bits"/> bits from <paramref name="packed"/>.</summary>
    public static int[] Unpack(ReadOnlySpan<byte> packed, int bits, int count)
    {
        ValidateBits(bits);
        if (count < 0 || PackedBytes(count, bits) > packed.Length)
            throw new ArgumentException($"{packed.Length} bytes do not hold {count} values of {bits} bits");
        var values = new int[count];
        ulong mask = (1UL << bits) - 1, buffer = 0;
        int filled = 0, o = 0;
        for (int i = 0; i < count; i++)
        {
            while (filled < bits) { buffer |= (ulong)packed[o++] << filled; filled += 8; }
            values[i] = (int)(buffer & mask);
            buffer >>= bits;
            filled -= bits;
        }
        return values;
    }

    private static void ValidateBits(int bits)
    {
        if (bits is < 1 or > 31) throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be in 1..31");
    }
}
