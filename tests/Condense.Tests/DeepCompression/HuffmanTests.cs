// Canonical Huffman coding: the CLRS example (lengths and the 224-bit total), canonical codes,
// prefix-freeness, round trips of skewed streams, and the edge cases — one symbol, empty stream.
using Condense.DeepCompression;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.DeepCompression;

public sealed class HuffmanTests
{
    // CLRS §16.3: a:45 b:13 c:12 d:16 e:9 f:5.
    private static readonly long[] Clrs = [45, 13, 12, 16, 9, 5];

    [Fact]
    public void ClrsExample()
    {
        var code = HuffmanCode.FromFrequencies(Clrs);
        Assert.Equal([1, 3, 3, 3, 4, 4], code.Lengths);
        Assert.Equal(224, code.EncodedBits(Clrs));
        // Canonical: a = 0, b = 100, c = 101, d = 110, e = 1110, f = 1111.
        Assert.Equal([0b0UL, 0b100, 0b101, 0b110, 0b1110, 0b1111], Enumerable.Range(0, 6).Select(code.Code));
        var stream = Enumerable.Range(0, 6).SelectMany(s => Enumerable.Repeat(s, (int)Clrs[s])).ToArray();
        var data = code.Encode(stream, out long bits);
        Assert.Equal(224, bits);
        Assert.Equal(28, data.Length);
        Assert.Equal(stream, code.Decode(data, stream.Length));
    }

    [Fact]
    public void BitsAreWrittenMostSignificantFirst()
    {
        var code = HuffmanCode.FromFrequencies(Clrs);
        // f a b = 1111 0 100 → 0b1111_0100
        Assert.Equal([0xF4], code.Encode([5, 0, 1], out long bits));
        Assert.Equal(8, bits);
    }

    [Fact]
    public void TiesAreBrokenDeterministically()
    {
        Assert.Equal([2, 2, 2, 2], HuffmanCode.FromFrequencies([7, 7, 7, 7]).Lengths);
        // 1, 1, 2: the two leaves of weight 1 merge first; then the leaf of weight 2 before the merged node.
        Assert.Equal([2, 2, 1], HuffmanCode.FromFrequencies([1, 1, 2]).Lengths);
        Assert.Equal(HuffmanCode.FromFrequencies([3, 1, 1, 1, 1, 3]).Lengths, HuffmanCode.FromFrequencies([3, 1, 1, 1, 1, 3]).Lengths);
    }

    [Fact]
    public void CodesArePrefixFreeAndSatisfyKraft()
    {
        var rng = new Rng(11);
        var frequencies = new long[256];
        for (int s = 0; s < 256; s++) frequencies[s] = s % 5 == 0 ? 0 : 1 + (long)(rng.NextDouble() * rng.NextDouble() * 10000);
        var code = HuffmanCode.FromFrequencies(frequencies);
        var used = Enumerable.Range(0, 256).Where(s => frequencies[s] > 0).ToList();
        Assert.All(Enumerable.Range(0, 256), s => Assert.Equal(frequencies[s] > 0, code.Lengths[s] > 0));
        Assert.Equal(1.0, used.Sum(s => Math.Pow(2, -code.Lengths[s])), 1e-12);
        string Bits(int s) => Convert.ToString((long)code.Code(s), 2).PadLeft(code.Lengths[s], '0');
        foreach (int a in used)
            foreach (int b in used)
                if (a != b) Assert.False(Bits(b).StartsWith(Bits(a), StringComparison.Ordinal), $"{a} is a prefix of {b}");
        // From the lengths alone, the same code.
        var rebuilt = HuffmanCode.FromLengths(code.Lengths.ToArray());
        Assert.All(used, s => Assert.Equal(code.Code(s), rebuilt.Code(s)));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(16, 7)]
    [InlineData(256, 1031)]
    [InlineData(32, 4099)]
    public void RoundTripOfSkewedStreams(int alphabet, int n)
    {
        var rng = new Rng((ulong)(alphabet + n));
        var symbols = new int[n];
        // Geometric-like: small symbols are far more frequent, as cluster indices near zero are.
        for (int i = 0; i < n; i++) symbols[i] = (int)(alphabet * rng.NextDouble() * rng.NextDouble() * rng.NextDouble());
        var code = HuffmanCode.FromSymbols(symbols, alphabet);
        var data = code.Encode(symbols, out long bits);
        Assert.Equal(code.EncodedBits(HuffmanCode.Frequencies(symbols, alphabet)), bits);
        Assert.Equal((bits + 7) / 8, data.Length);
        Assert.Equal(symbols, code.Decode(data, n));
        if (n > 100) Assert.True(bits < (long)n * (int)Math.Log2(alphabet), "Huffman should beat fixed width on a skewed stream");
    }

    [Fact]
    public void SingleSymbolGetsOneBit()
    {
        var code = HuffmanCode.FromFrequencies([0, 0, 5, 0]);
        Assert.Equal([0, 0, 1, 0], code.Lengths);
        var data = code.Encode([2, 2, 2, 2, 2], out long bits);
        Assert.Equal(5, bits);
        Assert.Equal([2, 2, 2, 2, 2], code.Decode(data, 5));
    }

    [Fact]
    public void EmptyStream()
    {
        var code = HuffmanCode.FromSymbols([], 8);
        Assert.All(code.Lengths, l => Assert.Equal(0, l));
        Assert.Empty(code.Encode([], out long bits));
        Assert.Equal(0, bits);
        Assert.Empty(code.Decode([], 0));
        Assert.Equal(0, code.EncodedBits(new long[8]));
        Assert.Throws<ArgumentException>(() => code.Encode([3], out _));
    }

    [Fact]
    public void RejectsBadInput()
    {
        Assert.Throws<ArgumentException>(() => HuffmanCode.FromLengths([1, 1, 1]));
        Assert.Throws<ArgumentException>(() => HuffmanCode.FromFrequencies([-1, 2]));
        var code = HuffmanCode.FromFrequencies(Clrs);
        Assert.Throws<CondenseException>(() => code.Decode([0xFF], 3)); // 1111 1111 then the stream ends
    }
}
