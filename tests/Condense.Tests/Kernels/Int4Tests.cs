// Int4 packing: the ONNX nibble order (first value in the low nibble), sign extension on unpack, round
// trips of every value at even and odd lengths, and rejection of values outside [-8, 7].
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Int4Tests
{
    [Fact]
    public void PacksLowNibbleFirst()
    {
        var packed = new byte[2];
        Int4.Pack([1, -1, -8], packed);
        Assert.Equal(new byte[] { 0xF1, 0x08 }, packed); // the odd tail's high nibble is zero
        var values = new sbyte[3];
        Int4.Unpack(packed, values);
        Assert.Equal(new sbyte[] { 1, -1, -8 }, values);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(1001)]
    public void RoundTrips(int count)
    {
        var rng = new Rng((ulong)count + 1);
        var values = new sbyte[count];
        for (int i = 0; i < count; i++) values[i] = (sbyte)(i < 16 ? i - 8 : rng.NextInt(16) - 8);
        var packed = new byte[Int4.PackedLength(count)];
        Int4.Pack(values, packed);
        var back = new sbyte[count];
        Int4.Unpack(packed, back);
        Assert.Equal(values, back);
    }

    [Fact]
    public void RejectsOutOfRangeValuesAndWrongLengths()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Int4.Pack([0, 8], new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Int4.Pack([-9], new byte[1]));
        Assert.Throws<ArgumentException>(() => Int4.Pack([1, 2, 3], new byte[1]));
        Assert.Throws<ArgumentException>(() => Int4.Unpack(new byte[1], new sbyte[3]));
    }
}
