// F16, BF16 and F64 conversions checked against bit patterns worked out by hand from IEEE 754 and the
// bfloat16 definition (top half of a float32, round to nearest even), not against the code under test.
using System.Buffers.Binary;
using Condense.Formats;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class SafeTensorsConversionTests
{
    // value, F16 bits, BF16 bits, and what the BF16 bits decode to
    public static TheoryData<float, ushort, ushort, float> KnownValues => new()
    {
        { 1.0f, 0x3C00, 0x3F80, 1.0f },
        { -2.5f, 0xC100, 0xC020, -2.5f },
        { 65504f, 0x7BFF, 0x4780, 65536f },     // F16 max; BF16 rounds 0x477FE000 up
        { 0.1f, 0x2E66, 0x3DCD, 0.10009765625f }, // 0x3DCCCCCD
        { 0f, 0x0000, 0x0000, 0f },
    };

    [Theory]
    [MemberData(nameof(KnownValues))]
    public void F16AndBF16EncodeToKnownBits(float value, ushort f16, ushort bf16, float _)
    {
        var t = new Tensor([value], 1);
        Assert.Equal(f16, BinaryPrimitives.ReadUInt16LittleEndian(SafeTensorEntry.FromFloat("x", t, SafeTensorDType.F16).Data));
        Assert.Equal(bf16, BinaryPrimitives.ReadUInt16LittleEndian(SafeTensorEntry.FromFloat("x", t, SafeTensorDType.BF16).Data));
    }

    [Theory]
    [MemberData(nameof(KnownValues))]
    public void F16AndBF16DecodeFromKnownBits(float value, ushort f16, ushort bf16, float bf16Value)
    {
        float fromF16 = SafeTensorEntry.FromBytes("x", SafeTensorDType.F16, [], [(byte)f16, (byte)(f16 >> 8)]).ToFloatTensor().Item();
        float fromBF16 = SafeTensorEntry.FromBytes("x", SafeTensorDType.BF16, [], [(byte)bf16, (byte)(bf16 >> 8)]).ToFloatTensor().Item();
        Assert.Equal(value, fromF16, 5e-4f * Math.Max(1, Math.Abs(value))); // 0.1 is 0.0999755859375 in F16
        Assert.Equal(bf16Value, fromBF16);
    }

    [Fact]
    public void BF16RoundsTiesToEven()
    {
        // 0x3F808000 lies halfway between 0x3F80 and 0x3F81: even wins. 0x3F818000: 0x3F82 is even.
        float down = BitConverter.UInt32BitsToSingle(0x3F808000), up = BitConverter.UInt32BitsToSingle(0x3F818000);
        var e = SafeTensorEntry.FromFloat("x", new Tensor([down, up, float.NaN], 3), SafeTensorDType.BF16);
        Assert.Equal(0x3F80, BinaryPrimitives.ReadUInt16LittleEndian(e.Data));
        Assert.Equal(0x3F82, BinaryPrimitives.ReadUInt16LittleEndian(e.Data.AsSpan(2)));
        Assert.True(float.IsNaN(e.ToFloatTensor().Data[2]));
    }

    [Fact]
    public void F64ConvertsToTheNearestFloat()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, 0.1);
        Assert.Equal(0.1f, SafeTensorEntry.FromBytes("x", SafeTensorDType.F64, [1], bytes).ToFloatTensor().Data[0]);
    }

    [Fact]
    public void IntegersConvertToFloatOnlyWhenAsked()
    {
        var q = SafeTensorEntry.FromInt8("q", [-3, 5], 2);
        var e = Assert.Throws<CondenseException>(() => q.ToFloatTensor());
        Assert.Contains("'q'", e.Message);
        Assert.Equal(new[] { -3f, 5f }, q.ToFloatTensor(allowIntegers: true).Data);
        Assert.Throws<CondenseException>(() => q.ToInt32Array()); // wrong typed accessor
    }

    [Fact]
    public void EntriesRejectDataThatDoesNotFitTheShape()
    {
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromBytes("x", SafeTensorDType.F32, [2], new byte[4]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromBytes("x", SafeTensorDType.U8, [-1], []));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromBytes("__metadata__", SafeTensorDType.U8, [0], []));
    }
}
