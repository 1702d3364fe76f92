using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public class QuantParamsTests
{
    private static readonly QuantParams Unit = new(1f, 0, QuantRange.Int8);

    [Theory]
    [InlineData(0.5f, 0)]
    [InlineData(1.5f, 2)]
    [InlineData(2.5f, 2)]
    [InlineData(3.5f, 4)]
    [InlineData(-0.5f, 0)]
    [InlineData(-1.5f, -2)]
    [InlineData(-2.5f, -2)]
    [InlineData(0.49999997f, 0)]
    [InlineData(2.5000002f, 3)]
    [InlineData(-7.3f, -7)]
    public void RoundsHalfToEven(float x, int expected) => Assert.Equal(expected, Unit.Quantize(x));

    [Fact]
    public void TiesRoundToEvenBeforeTheZeroPointIsAdded()
    {
        // ONNX: round(x / scale) + zero_point, so the parity is that of round's argument, not of the result.
        var p = new QuantParams(0.5f, 3, QuantRange.UInt8);
        Assert.Equal(3, p.Quantize(0.25f));   // 0.5 → 0
        Assert.Equal(5, p.Quantize(0.75f));   // 1.5 → 2
        Assert.Equal(4, p.Quantize(0.5f));
        Assert.Equal(1, p.Quantize(-0.75f));  // −1.5 → −2
        Assert.Equal(3, p.Quantize(-0.25f));  // −0.5 → 0
    }

    [Fact]
    public void ClampsAtBothEnds()
    {
        var p = new QuantParams(0.1f, 0, QuantRange.Int8);
        Assert.Equal(127, p.Quantize(100f));
        Assert.Equal(-128, p.Quantize(-100f));
        Assert.Equal(127, p.Quantize(12.7f));
        Assert.Equal(-128, p.Quantize(-12.8f));
        Assert.Equal(127, p.Quantize(float.PositiveInfinity));
        Assert.Equal(-128, p.Quantize(float.NegativeInfinity));
        Assert.Equal(0, p.Quantize(float.NaN));
        var u = new QuantParams(0.5f, 10, QuantRange.UInt8);
        Assert.Equal(0, u.Quantize(-6f));
        Assert.Equal(255, u.Quantize(1e30f));
        Assert.Equal(-5f, u.RepresentableMin);
        Assert.Equal(122.5f, u.RepresentableMax);
    }

    [Fact]
    public void DequantizeIsScaleTimesOffset()
    {
        var p = new QuantParams(0.25f, 7, QuantRange.UInt8);
        Assert.Equal(0f, p.Dequantize(7));
        Assert.Equal(-1.75f, p.Dequantize(0));
        Assert.Equal(62f, p.Dequantize(255));
        Assert.Equal(0.5f, p.FakeQuantize(0.6f));
    }

    [Fact]
    public void QuotientIsComputedInFloat32()
    {
        // 0.3f / 0.1f is exactly 3.0 in float32 (ties resolved as ONNX Runtime sees them) …
        var p = new QuantParams(0.1f, 0, QuantRange.Int8);
        Assert.Equal(3, p.Quantize(0.3f));
        // … and 0.25f / 0.1f rounds to 2.5f in float32, a tie that goes to the even 2.
        Assert.Equal(2.5f, 0.25f / 0.1f);
        Assert.Equal(2, p.Quantize(0.25f));
    }

    [Fact]
    public void RangesForEveryBitWidth()
    {
        Assert.Equal(new QuantRange(-128, 127), QuantRange.Int8);
        Assert.Equal(new QuantRange(0, 255), QuantRange.UInt8);
        Assert.Equal(new QuantRange(-8, 7), QuantRange.Int4);
        Assert.Equal(new QuantRange(-127, 127), QuantRange.Restricted(8));
        Assert.Equal(new QuantRange(-1, 1), QuantRange.Restricted(2));
        for (int bits = 2; bits <= 8; bits++)
        {
            Assert.Equal(1 << bits, QuantRange.Signed(bits).Levels);
            Assert.Equal(1 << bits, QuantRange.Unsigned(bits).Levels);
            Assert.Equal((1 << bits) - 1, QuantRange.Restricted(bits).Levels);
            Assert.Equal(0, QuantRange.Signed(bits).Midpoint);
            Assert.Equal(0, QuantRange.Restricted(bits).Midpoint);
            Assert.Equal(1 << (bits - 1), QuantRange.Unsigned(bits).Midpoint);
        }
        Assert.Throws<CondenseException>(() => QuantRange.Signed(1));
        Assert.Throws<CondenseException>(() => QuantRange.Unsigned(9));
        Assert.Throws<CondenseException>(() => new QuantRange(3, 3));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void EveryBitWidthQuantizesWithinHalfAStep(int bits)
    {
        var x = Tensor.Uniform(new Rng((ulong)bits), -3f, 5f, 127);
        var rangesAndSymmetry = new[]
        {
            (QuantRange.Signed(bits), false), (QuantRange.Unsigned(bits), false), (QuantRange.Restricted(bits), true), (QuantRange.Signed(bits), true),
        };
        foreach (var (range, symmetric) in rangesAndSymmetry)
        {
            var p = AffineQuantizer.PerTensor(x, range, symmetric);
            Assert.Equal(0f, p.FakeQuantize(0f));
            foreach (float v in x.Data)
            {
                int q = p.Quantize(v);
                Assert.InRange(q, range.QMin, range.QMax);
                if (v >= p.RepresentableMin && v <= p.RepresentableMax)
                    Assert.True(MathF.Abs(v - p.Dequantize(q)) <= p.Scale / 2 * 1.0001f, $"{v} → {q} with {p}");
            }
        }
    }

    [Fact]
    public void FromMinMaxAsymmetricMatchesHandComputation()
    {
        // uint8 over [−1, 3]: scale = 4/255, zero point = 0 − round(−1 / scale) = round(63.75) = 64.
        var p = QuantParams.FromMinMax(-1f, 3f, QuantRange.UInt8, symmetric: false);
        Assert.Equal(4f / 255f, p.Scale);
        Assert.Equal(64, p.ZeroPoint);
        Assert.Equal(64, p.Quantize(0f));
        Assert.Equal(0f, p.Dequantize(64));
        // int8 over the same range: zero point = −128 + 64 = −64.
        Assert.Equal(-64, QuantParams.FromMinMax(-1f, 3f, QuantRange.Int8, false).ZeroPoint);
    }

    [Fact]
    public void FromMinMaxSymmetricUsesHalfTheRange()
    {
        var full = QuantParams.FromMinMax(-2.55f, 1f, QuantRange.Int8, symmetric: true);
        Assert.Equal(2.55f / 127.5f, full.Scale);
        Assert.Equal(0, full.ZeroPoint);
        var restricted = QuantParams.FromMinMax(-1f, 2.54f, QuantRange.Restricted(8), symmetric: true);
        Assert.Equal(2.54f / 127f, restricted.Scale);
        Assert.Equal(127, restricted.Quantize(2.54f));
        Assert.Equal(-127, restricted.Quantize(-2.54f));
        // Symmetric uint8 centres on 128, as PyTorch.
        Assert.Equal(128, QuantParams.FromMinMax(-1f, 1f, QuantRange.UInt8, true).ZeroPoint);
    }

    [Theory]
    [InlineData(2f, 5f)]
    [InlineData(-5f, -2f)]
    [InlineData(-0.3f, 7.1f)]
    [InlineData(-1e-3f, 1e4f)]
    [InlineData(-123.4f, 0.001f)]
    [InlineData(0f, 0f)]
    [InlineData(3f, 3f)]
    public void ZeroIsExactlyRepresentable(float min, float max)
    {
        foreach (var range in new[] { QuantRange.Int8, QuantRange.UInt8, QuantRange.Int4, QuantRange.Unsigned(2), QuantRange.Restricted(8) })
            foreach (bool symmetric in new[] { false, true })
            {
                var p = QuantParams.FromMinMax(min, max, range, symmetric);
                Assert.Equal(0f, p.FakeQuantize(0f));
                // The representable range covers [min(min, 0), max(max, 0)] up to the zero point's rounding.
                Assert.True(
                    p.RepresentableMin <= MathF.Min(min, 0f) + p.Scale && p.RepresentableMax >= MathF.Max(max, 0f) - p.Scale,
                    $"{p} for [{min}, {max}]");
            }
    }

    [Fact]
    public void DegenerateRangesGetTheEpsilonScale()
    {
        var p = QuantParams.FromMinMax(0f, 0f, QuantRange.UInt8, false);
        Assert.Equal(QuantParams.MinScale, p.Scale);
        Assert.Equal(0, p.ZeroPoint);
        Assert.Equal(QuantParams.MinScale, QuantParams.FromMinMax(0f, 0f, QuantRange.Int8, true).Scale);
        Assert.Throws<CondenseException>(() => QuantParams.FromMinMax(1f, 0f, QuantRange.Int8, false));
        Assert.Throws<CondenseException>(() => QuantParams.FromMinMax(float.NaN, 0f, QuantRange.Int8, false));
        Assert.Throws<CondenseException>(() => new QuantParams(0f, 0, QuantRange.Int8));
        Assert.Throws<CondenseException>(() => new QuantParams(1f, 300, QuantRange.UInt8));
    }

    [Fact]
    public void SpansOfBytesAndSignedBytes()
    {
        float[] x = [-1f, -0.5f, 0f, 0.25f, 2f];
        var s = new QuantParams(0.5f, 0, QuantRange.Int8);
        var qs = new sbyte[5];
        s.Quantize(x, qs);
        Assert.Equal(new sbyte[] { -2, -1, 0, 0, 4 }, qs);
        var u = new QuantParams(0.5f, 2, QuantRange.UInt8);
        var qu = new byte[5];
        u.Quantize(x, qu);
        Assert.Equal(new byte[] { 0, 1, 2, 2, 6 }, qu);
        var back = new float[5];
        u.Dequantize(qu, back);
        Assert.Equal(new[] { -1f, -0.5f, 0f, 0f, 2f }, back);
        Assert.Throws<CondenseException>(() => u.Quantize(x, new sbyte[5]));
        Assert.Throws<CondenseException>(() => s.Quantize(x, new byte[5]));
    }
}
