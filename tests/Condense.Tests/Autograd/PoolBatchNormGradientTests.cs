// Gradients of the pooling and batch-norm ops against central finite differences. Max pooling gets
// inputs whose values are at least 0.05 apart, so a ±0.01 step never changes a window's argmax.
using Condense.Tensors;
using static Condense.Tests.Autograd.GradCheck;

namespace Condense.Tests.Autograd;

public class PoolBatchNormGradientTests
{
    // Distinct values 0.05 apart in a seeded random order.
    private static Tensor Spaced(ulong seed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var order = Enumerable.Range(0, t.Size).ToArray();
        new Random((int)seed).Shuffle(order);
        for (int i = 0; i < t.Size; i++) t.Data[i] = (order[i] - t.Size / 2) * 0.05f;
        return t;
    }

    [Theory]
    [InlineData(2, 2, 0, 1, false)]
    [InlineData(3, 2, 1, 1, true)]   // overlapping windows: one input can receive several gradients
    [InlineData(3, 1, 1, 2, false)]
    [InlineData(2, 3, 1, 1, true)]
    public void MaxPool(int kernel, int stride, int pad, int dilation, bool ceil) =>
        Check(x => x[0].MaxPool2d(kernel, stride, pad, dilation, ceil), [Spaced(1, 2, 3, 7, 6)]);

    [Theory]
    [InlineData(2, 2, 0, false, true)]
    [InlineData(3, 2, 1, true, true)]
    [InlineData(3, 2, 1, true, false)]
    [InlineData(3, 1, 1, false, false)]
    public void AvgPool(int kernel, int stride, int pad, bool ceil, bool countIncludePad) =>
        Check(x => x[0].AvgPool2d(kernel, stride, pad, ceil, countIncludePad), [Random(2, 2, 3, 7, 6)]);

    [Fact]
    public void GlobalPools()
    {
        Check(x => x[0].GlobalAvgPool(), [Random(3, 2, 3, 4, 5)]);
        Check(x => x[0].GlobalMaxPool(), [Spaced(4, 2, 3, 4, 5)]);
    }

    [Fact]
    public void AsymmetricWindow()
    {
        var window = new PoolWindow(2, 3, 1, 2, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 2);
        Check(x => x[0].MaxPool2d(window), [Spaced(5, 1, 2, 5, 6)]);
        Check(x => x[0].AvgPool2d(window, countIncludePad: false), [Random(6, 1, 2, 5, 6)]);
    }

    [Theory]
    [InlineData(new[] { 4, 3, 2, 3 })]
    [InlineData(new[] { 6, 3 })]        // BatchNorm1d after a Linear
    [InlineData(new[] { 2, 2, 5 })]
    public void BatchNormTrainingThroughTheBatchStatistics(int[] shape)
    {
        int c = shape[1];
        var runningMean = Tensor.Zeros(c);
        var runningVar = Tensor.Full(1f, c);
        var x = Random(7, shape);
        for (int i = 0; i < x.Size; i++) x.Data[i] = x.Data[i] * 2f + 0.5f;
        var gamma = Tensor.Uniform(new Rng(8), 0.5f, 1.5f, c);
        var beta = Random(9, c);
        Check(t => Tensor.BatchNorm(t[0], runningMean, runningVar, t[1], t[2], training: true), [x, gamma, beta]);
    }

    [Fact]
    public void BatchNormEvaluationIsAPerChannelAffine()
    {
        var runningMean = Random(10, 3);
        var runningVar = Tensor.Uniform(new Rng(11), 0.5f, 2f, 3);
        var gamma = Tensor.Uniform(new Rng(12), 0.5f, 1.5f, 3);
        Check(t => Tensor.BatchNorm(t[0], runningMean, runningVar, t[1], t[2], training: false), [Random(13, 2, 3, 4, 2), gamma, Random(14, 3)]);
    }

    [Fact]
    public void BatchNormWithoutAffineParameters() =>
        Check(t => Tensor.BatchNorm(t[0], null, null, null, null, training: true), [Random(15, 3, 2, 5)]);
}
