// BatchNorm1d/2d and the pooling layers: PyTorch's state-dict names, the running-statistic update
// (momentum 0.1, unbiased variance) against a hand-computed reference, training vs evaluation outputs,
// and one-line errors for wrong input shapes.
using Condense.Autograd;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Nn;

public class BatchNormTests
{
    [Fact]
    public void StateDictUsesPyTorchNames()
    {
        var bn = new BatchNorm2d(4);
        Assert.Equal(["weight", "bias", "running_mean", "running_var"], bn.StateDict().Keys);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name));
        Assert.All(bn.Weight.Data, v => Assert.Equal(1f, v));
        Assert.All(bn.Bias.Data, v => Assert.Equal(0f, v));
        Assert.All(bn.RunningMean.Data, v => Assert.Equal(0f, v));
        Assert.All(bn.RunningVar.Data, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void TrainingUpdatesRunningStatisticsAsPyTorch()
    {
        // Channel 0 sees {1, 2, 3, 6} and channel 1 sees {0, 0, 4, 4} over (N = 2, H·W = 2).
        var x = new Tensor([1f, 2f, 0f, 0f, 3f, 6f, 4f, 4f], 2, 2, 1, 2);
        var bn = new BatchNorm2d(2, momentum: 0.25f);
        bn.RunningMean.Data[0] = 1f; bn.RunningVar.Data[0] = 2f;
        bn.Forward(x);
        // mean0 = 3, unbiased var0 = (4 + 1 + 0 + 9) / 3 = 14/3; mean1 = 2, unbiased var1 = 16/3.
        Assert.Equal(0.75f * 1f + 0.25f * 3f, bn.RunningMean.Data[0], 6);
        Assert.Equal(0.75f * 2f + 0.25f * 14f / 3f, bn.RunningVar.Data[0], 6);
        Assert.Equal(0.25f * 2f, bn.RunningMean.Data[1], 6);
        Assert.Equal(0.75f * 1f + 0.25f * 16f / 3f, bn.RunningVar.Data[1], 6);

        // Evaluation reads them and leaves them alone.
        bn.Eval();
        var before = bn.RunningVar.Data.ToArray();
        var y = bn.Forward(x);
        Assert.Equal(before, bn.RunningVar.Data);
        float expected = (3f - bn.RunningMean.Data[0]) / MathF.Sqrt(bn.RunningVar.Data[0] + 1e-5f);
        Assert.Equal(expected, y[1, 0, 0, 0], 5);
    }

    [Fact]
    public void TrainingOutputIsNormalisedThenScaledAndShifted()
    {
        var bn = new BatchNorm2d(3);
        bn.Weight.Data[1] = 2f; bn.Bias.Data[1] = -1f;
        var x = Tensor.Normal(new Rng(1), 5f, 3f, 4, 3, 5, 5);
        var y = bn.Forward(x);
        for (int ch = 0; ch < 3; ch++)
        {
            var values = Enumerable.Range(0, 4).SelectMany(b => Enumerable.Range(0, 25).Select(i => (double)y.Data[(b * 3 + ch) * 25 + i])).ToArray();
            double mean = values.Average(), variance = values.Select(v => (v - mean) * (v - mean)).Average();
            double gamma = bn.Weight.Data[ch], beta = bn.Bias.Data[ch];
            Assert.Equal(beta, mean, 4);
            Assert.Equal(gamma * gamma, variance, 3); // var(x̂) = var/(var + ε) ≈ 1
        }
    }

    [Fact]
    public void BatchNorm1dNormalisesTheFeaturesOfALinearOutput()
    {
        var bn = new BatchNorm1d(3);
        var x = Tensor.Normal(new Rng(2), 0f, 1f, 8, 3);
        var y = bn.Forward(x);
        for (int ch = 0; ch < 3; ch++)
            Assert.Equal(0.0, Enumerable.Range(0, 8).Average(b => (double)y[b, ch]), 5);
        var e = Assert.Throws<CondenseException>(() => bn.Forward(Tensor.Zeros(2, 4)));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void WrongShapesAndSingleValueBatchesAreOneLineErrors()
    {
        var bn = new BatchNorm2d(3);
        Assert.Throws<CondenseException>(() => bn.Forward(Tensor.Zeros(2, 3, 4)));
        Assert.Throws<CondenseException>(() => bn.Forward(Tensor.Zeros(2, 4, 2, 2)));
        var e = Assert.Throws<CondenseException>(() => bn.Forward(Tensor.Zeros(1, 3, 1, 1)));
        Assert.Contains("more than one value", e.Message);
        Assert.Throws<CondenseException>(() => new MaxPool2d(2).Forward(Tensor.Zeros(2, 3)));
        Assert.Throws<CondenseException>(() => new GlobalAvgPool2d().Forward(Tensor.Zeros(2, 3)));
    }

    [Fact]
    public void PoolingLayersShapeLeNetActivations()
    {
        var x = Tensor.Normal(new Rng(3), 0f, 1f, 2, 6, 28, 28);
        using var _ = GradMode.NoGrad();
        Assert.Equal([2, 6, 14, 14], new MaxPool2d(2).Forward(x).Shape);
        Assert.Equal([2, 6, 14, 14], new AvgPool2d(2).Forward(x).Shape);
        Assert.Equal([2, 6, 15, 15], new MaxPool2d(3, 2, 1, ceilMode: true).Forward(x).Shape);
        var g = new GlobalAvgPool2d().Forward(x);
        Assert.Equal([2, 6, 1, 1], g.Shape);
        Assert.Equal(x.Data.Take(784).Average(), g.Data[0], 5);
    }
}
