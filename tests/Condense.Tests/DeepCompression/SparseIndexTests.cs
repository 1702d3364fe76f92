// Relative index gaps (Deep Compression Fig. 2): a hand example with a filler, round trips on random
// sparse positions with long runs of zeros for every width, and the code count formula.
using Condense.DeepCompression;
using Condense.Kernels;
using Condense.Kernels.Int8Gemm;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.DeepCompression;

public sealed class SparseIndexTests
{
    [Fact]
    public void HandExampleWithFiller()
    {
        // 3 bits: gaps up to 7. Positions 1, 4, 15 → gaps 2, 3, 11 = 7 (filler 0) + 4.
        Assert.Equal([2, 3, 0, 4], SparseIndex.Encode([1, 4, 15], 3));
        Assert.Equal([1, 4, 15], SparseIndex.Decode([2, 3, 0, 4], 3));
        // A first weight at position 0 is a gap of 1; a gap of exactly the maximum needs no filler.
        Assert.Equal([1, 7, 0, 0, 1], SparseIndex.Encode([0, 7, 22], 3));
        Assert.Equal([0, 7, 22], SparseIndex.Decode([1, 7, 0, 0, 1], 3));
        Assert.Empty(SparseIndex.Encode([], 5));
        Assert.Equal(31, SparseIndex.MaxGap(SparseIndex.FcGapBits));
        Assert.Equal(255, SparseIndex.MaxGap(SparseIndex.ConvGapBits));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(8)]
    public void RoundTripWithLongGaps(int bits)
    {
        var rng = new Rng((ulong)bits);
        var positions = new List<int>();
        int p = -1;
        for (int i = 0; i < 127; i++)
        {
            // Mostly short gaps, some far longer than the maximum (several fillers in a row).
            p += rng.NextInt(10) == 0 ? 1 + rng.NextInt(1000) : 1 + rng.NextInt(4);
            positions.Add(p);
        }
        var codes = SparseIndex.Encode(positions.ToArray(), bits);
        Assert.All(codes, c => Assert.InRange(c, 0, SparseIndex.MaxGap(bits)));
        Assert.Contains(0, codes);
        Assert.Equal(codes.Length, SparseIndex.CodeCount(positions.ToArray(), bits));
        Assert.Equal(positions, SparseIndex.Decode(codes, bits));
        Assert.Equal(codes, BitPacking.Unpack(BitPacking.Pack(codes, bits), bits, codes.Length));
    }

    [Fact]
    public void RejectsUnsortedPositionsAndBadCodes()
    {
        Assert.Throws<ArgumentException>(() => SparseIndex.Encode([3, 3], 4));
        Assert.Throws<ArgumentException>(() => SparseIndex.Encode([-1], 4));
        Assert.Throws<ArgumentException>(() => SparseIndex.Decode([16], 4));
    }
}
