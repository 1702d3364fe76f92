// int4 storage for 4-bit weights: two signed values per byte, the first in the low nibble, as ONNX's
// INT4 tensors are laid out (an odd count leaves the last high nibble zero). Unpacking sign-extends.
namespace Condense.Kernels.Int8Gemm;

/// <summary>Packs signed 4-bit values ([-8, 7]) two to a byte and back.</summary>
public static class Int4
{
    /// <summary>Bytes needed for <paramref name="count"/> int4 values: ⌈count / 2⌉.</summary>
    public static int PackedLength(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return (int)(((long)count + 1) / 2);
    }

    /// <summary>packed[i] = (values[2i] &amp; 0xF) | values[2i+1] &lt;&lt; 4; each value must lie in [-8, 7].</summary>
    public static void Pack(ReadOnlySpan<sbyte> values, Span<byte> packed)
    {
        if (packed.Length != PackedLength(values.Length))
            throw new ArgumentException($"packed holds {packed.Length} bytes, {values.Length} int4 values need {PackedLength(values.Length)}", nameof(packed));
        for (int i = 0; i < values.Length; i++)
        {
            int v = values[i];
            if (v < -8 || v > 7)
                throw new ArgumentOutOfRangeException(nameof(values), v, $"values[{i}] = {v} does not fit in int4 [-8, 7]");
        }
        for (int j = 0; j < packed.Length; j++)
        {
            int lo = values[2 * j] & 0xF;
            int hi = 2 * j + 1 < values.Length ? values[2 * j + 1] & 0xF : 0;
            packed[j] = (byte)(lo | hi << 4);
        }
    }

    /// <summary>values[i] = the sign-extended nibble i of <paramref name="packed"/> (low nibble first).</summary>
    public static void Unpack(ReadOnlySpan<byte> packed, Span<sbyte> values)
    {
        if (packed.Length != PackedLength(values.Length))
            throw new ArgumentException($"packed holds {packed.Length} bytes, {values.Length} int4 values need {PackedLength(values.Length)}", nameof(packed));
        for (int i = 0; i < values.Length; i++)
        {
            int nibble = packed[i >> 1] >> 4 * (i & 1) & 0xF;
            values[i] = (sbyte)((nibble ^ 8) - 8); // sign-extend bit 3
        }
    }
}
