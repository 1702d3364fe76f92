// Bit packing of indices and gaps: a known byte layout, round trips for every width 1–8 (and wider) at
// ragged lengths, the exact packed size, and rejection of values that do not fit.
using Condense.Kernels.Int8Gemm;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public sealed class BitPackingTests
{
    [Fact]
    public void LayoutIsLeastSignificantBitFirst()
    {
        // 1 | 2<<2 | 3<<4 = 0b0011_1001
        Assert.Equal([0x39], BitPacking.Pack([1, 2, 3], 2));
        // 5 (101) then 6 (110) in 3 bits: bits 0–5 = 101 011 → 0b0011_0101, high bits zero.
        Assert.Equal([0x35], BitPacking.Pack([5, 6], 3));
        Assert.Equal([0xFF, 0x01], BitPacking.Pack([0x1FF], 9));
    }

    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        foreach (int bits in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 13, 31 })
            foreach (int n in new[] { 0, 1, 7, 31, 33, 65 })
                data.Add(bits, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTrip(int bits, int n)
    {
        var rng = new Rng((ulong)(bits * 1000 + n));
        var values = new int[n];
        long limit = 1L << bits;
        for (int i = 0; i < n; i++) values[i] = (int)(rng.NextUInt64() % (ulong)limit);
        if (n > 0) values[^1] = (int)(limit - 1); // the widest value, last
        var packed = BitPacking.Pack(values, bits);
        Assert.Equal((n * bits + 7) / 8, packed.Length);
        Assert.Equal(packed.Length, BitPacking.PackedBytes(n, bits));
        Assert.Equal(values, BitPacking.Unpack(packed, bits, n));
    }

    [Fact]
    public void RejectsValuesThatDoNotFit()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Pack([4], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Pack([-1], 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Pack([0], 0));
        Assert.Throws<ArgumentException>(() => BitPacking.Unpack([0], 3, 3));
    }
}
