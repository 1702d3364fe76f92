using Condense.Nn;
using Condense.Optim;
using Condense.Quantization;
using Condense.Quantization.Observers;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public class FakeQuantizeTests
{
    [Fact]
    public void ForwardEqualsDequantizeOfQuantizeExactly()
    {
        var x = Tensor.Uniform(new Rng(1), -3f, 3f, 7, 31);
        for (int i = 0; i < 20; i++) x.Data[i] = (i - 10) * 0.05f; // ties at scale 0.1: ±0.05, ±0.15, …
        foreach (var p in new[] { new QuantParams(0.1f, 0, QuantRange.Int8), new QuantParams(0.02f, 37, QuantRange.UInt8), new QuantParams(0.3f, -2, QuantRange.Int4) })
        {
            var y = x.FakeQuantize(p);
            for (int i = 0; i < x.Size; i++) Assert.Equal(p.Dequantize(p.Quantize(x.Data[i])), y.Data[i]);
        }
    }

    [Fact]
    public void PerChannelForwardUsesEachRowsParameters()
    {
        var w = Tensor.Normal(new Rng(2), 0f, 1f, 5, 33);
        var ps = AffineQuantizer.PerChannel(w, 0, QuantRange.Restricted(8), true);
        var y = w.FakeQuantize(ps, 0);
        var q = AffineQuantizer.QuantizeToSByte(w, ps, 0);
        Assert.Equal(AffineQuantizer.Dequantize(q, w.Shape, ps, 0).Data, y.Data);
    }

    [Fact]
    public void StraightThroughGradientIsOneInsideAndZeroOutside()
    {
        // int4, scale 1, zero point 0: the integers −8…7 are representable. PyTorch's mask tests the
        // rounded value before clamping, so −8.5 (rounds to −8) passes and 7.6 (rounds to 8) does not.
        var x = new Tensor([-10f, -8.6f, -8.5f, -8f, 0.3f, 6.9f, 7.4f, 7.5f, 7.6f, 20f], 10) { RequiresGrad = true };
        var y = x.FakeQuantize(new QuantParams(1f, 0, QuantRange.Int4));
        Assert.Equal(new[] { -8f, -8f, -8f, -8f, 0f, 7f, 7f, 7f, 7f, 7f }, y.Data);
        y.Backward(new Tensor([1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f], 10));
        Assert.Equal(new[] { 0f, 0f, 3f, 4f, 5f, 6f, 7f, 0f, 0f, 0f }, x.Grad!.Data);
    }

    [Fact]
    public void StraightThroughGradientWithAZeroPoint()
    {
        // uint8, scale 0.5, zero point 10: representable [−5, 122.5].
        var x = new Tensor([-6f, -5f, 0f, 100f, 122.5f, 123f], 6) { RequiresGrad = true };
        x.FakeQuantize(new QuantParams(0.5f, 10, QuantRange.UInt8)).Sum().Backward();
        Assert.Equal(new[] { 0f, 1f, 1f, 1f, 1f, 0f }, x.Grad!.Data);
    }

    [Fact]
    public void PerChannelStraightThroughUsesEachChannelsRange()
    {
        var x = new Tensor([0.5f, 2f, 0.5f, 2f], 2, 2) { RequiresGrad = true };
        QuantParams[] ps = [new(0.01f, 0, QuantRange.Int8), new(1f, 0, QuantRange.Int8)]; // row 0 saturates at 1.27
        x.FakeQuantize(ps, 0).Sum().Backward();
        Assert.Equal(new[] { 1f, 0f, 1f, 1f }, x.Grad!.Data);
    }

    [Fact]
    public void ModuleSwitchesControlObservingAndQuantizing()
    {
        var fq = new FakeQuantize(new MinMaxObserver(), QuantRange.UInt8);
        var x = new Tensor([0f, 0.3f, 1f, 2.55f], 4);
        var y = fq.Forward(x);
        Assert.Equal(0.01f, fq.Params.Scale);
        Assert.Equal(0, fq.Params.ZeroPoint);
        Assert.Equal(x.FakeQuantize(fq.Params).Data, y.Data);
        Assert.Equal(0.01f, fq.StateDict()["scale"].Item());

        fq.Observe = false; // frozen parameters: a wider input is clamped
        var wide = fq.Forward(new Tensor([10f], 1));
        Assert.Equal(2.55f, wide.Data[0]);
        Assert.Equal(2.55f, ((MinMaxObserver)fq.Observer).Max);

        fq.Quantize = false; // pass-through
        Assert.Same(x, fq.Forward(x));

        fq.Observe = true; // calibration: observe without quantizing
        var calibration = new Tensor([-1f, 5.1f], 2);
        Assert.Same(calibration, fq.Forward(calibration));
        Assert.Equal(6.1f / 255f, fq.Params.Scale);
        Assert.Contains(fq.NamedModules(), m => m.Name == "activation_post_process");
    }

    [Fact]
    public void QuantizationAwareTrainingLowersTheLoss()
    {
        // A 4-bit-weight, 8-bit-activation MLP fits a smooth function: the straight-through estimator lets it learn.
        var rng = new Rng(3);
        var x = Tensor.Uniform(rng, -1f, 1f, 64, 3);
        var target = Tensor.Zeros(64, 1);
        for (int i = 0; i < 64; i++) target.Data[i] = MathF.Sin(2 * x[i, 0]) + x[i, 1] * x[i, 2];
        var model = new Sequential(
            new FakeQuantizedLinear(new Linear(3, 16, rng: new Rng(4)), QuantRange.Restricted(4)),
            new ReLU(),
            new FakeQuantize(new MovingAverageMinMaxObserver(), QuantRange.UInt8),
            new FakeQuantizedLinear(new Linear(16, 1, rng: new Rng(5)), QuantRange.Restricted(4)));
        var optimizer = new Adam(model.Parameters(), 0.02f);
        float Loss()
        {
            optimizer.ZeroGrad();
            var loss = Losses.Mse(model.Forward(x), target);
            loss.Backward();
            optimizer.Step();
            return loss.Item();
        }
        float first = Loss();
        float last = first;
        for (int step = 0; step < 200; step++) last = Loss();
        Assert.True(last < 0.3f * first, $"loss {first} → {last}");
        Assert.All(model.Parameters(), p => Assert.NotNull(p.Grad));
    }
}
