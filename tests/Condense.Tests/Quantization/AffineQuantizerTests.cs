using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public class AffineQuantizerTests
{
    [Fact]
    public void PerChannelSymmetricScalesAreRowMaxOver127()
    {
        var w = new Tensor([1f, -2f, 0.5f, 0.1f, 0.2f, -0.3f, 0f, 0f, 0f, 0.7f, 0.7f, -0.7f], 4, 3);
        var ps = AffineQuantizer.PerChannel(w, 0, QuantRange.Restricted(8), symmetric: true);
        Assert.Equal(4, ps.Length);
        Assert.Equal(2f / 127f, ps[0].Scale);
        Assert.Equal(0.3f / 127f, ps[1].Scale);
        Assert.Equal(QuantParams.MinScale, ps[2].Scale);
        Assert.Equal(0.7f / 127f, ps[3].Scale);
        Assert.All(ps, p => Assert.Equal(0, p.ZeroPoint));
        var q = AffineQuantizer.QuantizeToSByte(w, ps, 0);
        Assert.Equal(new sbyte[] { 64, -127, 32, 42, 85, -127, 0, 0, 0, 127, 127, -127 }, q);
        var back = AffineQuantizer.Dequantize(q, w.Shape, ps, 0);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 3; c++)
                Assert.True(MathF.Abs(back[r, c] - w[r, c]) <= ps[r].Scale / 2 * 1.0001f);
    }

    [Fact]
    public void PerChannelAlongAMiddleAxisMatchesSlicing()
    {
        var x = Tensor.Normal(new Rng(3), 0f, 1f, 2, 5, 7);
        for (int i = 0; i < 7; i++) x[1, 3, i] *= 40f; // channel 3 is much wider
        var ps = AffineQuantizer.PerChannel(x, 1, QuantRange.UInt8, symmetric: false);
        var q = AffineQuantizer.QuantizeToByte(x, ps, 1);
        for (int o = 0; o < 2; o++)
            for (int c = 0; c < 5; c++)
                for (int i = 0; i < 7; i++)
                    Assert.Equal(ps[c].Quantize(x[o, c, i]), q[(o * 5 + c) * 7 + i]);
        Assert.True(ps[3].Scale > 10 * ps[2].Scale);
        var perChannel = AffineQuantizer.Error(x, ps, 1);
        var perTensor = AffineQuantizer.Error(x, AffineQuantizer.PerTensor(x, QuantRange.UInt8, false));
        Assert.True(perChannel.Mse < perTensor.Mse);
        Assert.Equal(AffineQuantizer.Dequantize(q, x.Shape, ps, 1).Data, AffineQuantizer.Dequantize(q, x.Shape, ps, -2).Data);
    }

    [Fact]
    public void PerTensorRoundTripAndError()
    {
        var x = new Tensor([-1f, -0.3f, 0f, 0.26f, 1f], 5);
        var p = new QuantParams(0.5f, 0, QuantRange.Int8);
        var q = AffineQuantizer.QuantizeToSByte(x, p);
        Assert.Equal(new sbyte[] { -2, -1, 0, 1, 2 }, q);
        var back = AffineQuantizer.Dequantize(q, [5], p);
        Assert.Equal(new[] { -1f, -0.5f, 0f, 0.5f, 1f }, back.Data);
        var error = AffineQuantizer.Error(x, p);
        Assert.Equal((0.2 * 0.2 + 0.24 * 0.24) / 5, error.Mse, 6);
        Assert.Equal(0.24f, error.MaxAbs, 5);
        var u = AffineQuantizer.QuantizeToByte(x, new QuantParams(0.25f, 4, QuantRange.UInt8));
        Assert.Equal(new byte[] { 0, 3, 4, 5, 8 }, u);
        Assert.Throws<CondenseException>(() => AffineQuantizer.Dequantize(q, [2, 2], p));
        Assert.Throws<CondenseException>(() => AffineQuantizer.PerChannel(x, 1, QuantRange.Int8, true));
    }
}
