// GradientClipping.ClipGlobalNorm against hand computations of torch.nn.utils.clip_grad_norm_.
using Condense.Nn;
using Condense.Optim;
using Condense.Tensors;

namespace Condense.Tests.Optim;

public sealed class GradientClippingTests
{
    [Fact]
    public void ScalesAllGradientsByOneFactorWhenAboveTheLimit()
    {
        // Gradients (3, 4) and (12): total norm √(9 + 16 + 144) = 13; with maxNorm 6.5 each is halved (up to the 1e-6).
        var a = new Parameter([0f, 0f], 2) { Grad = new Tensor([3f, 4f], 2) };
        var b = new Parameter([0f], 1) { Grad = new Tensor([12f], 1) };
        var unused = new Parameter([0f], 1);

        float norm = GradientClipping.ClipGlobalNorm([a, unused, b], 6.5f);

        Assert.Equal(13f, norm, 6);
        double scale = 6.5 / (13 + 1e-6);
        Assert.Equal(3 * scale, a.Grad!.Data[0], 6);
        Assert.Equal(4 * scale, a.Grad.Data[1], 6);
        Assert.Equal(12 * scale, b.Grad!.Data[0], 6);
        Assert.Null(unused.Grad);
        double after = Math.Sqrt(a.Grad.Data.Concat(b.Grad.Data).Sum(g => (double)g * g));
        Assert.Equal(6.5, after, 5);
    }

    [Fact]
    public void LeavesGradientsAloneBelowTheLimit()
    {
        float[] grad = [0.3f, -0.4f, 1.2f];
        var p = new Parameter(new float[3], 3) { Grad = new Tensor((float[])grad.Clone(), 3) };

        float norm = GradientClipping.ClipGlobalNorm([p], 2f);

        Assert.Equal(1.3f, norm, 6);
        Assert.Equal(grad, p.Grad!.Data); // bit for bit
    }

    [Fact]
    public void MatchesAHandComputationOnALargeTensor()
    {
        // 10,007 elements span several summation slices; the reference sums in double.
        var p = new Parameter(new float[10_007], 10_007) { Grad = Tensor.Uniform(new Rng(5), -1f, 1f, 10_007) };
        var q = new Parameter(new float[3], 3) { Grad = new Tensor([2f, -2f, 1f], 3) };
        var before = p.Grad.Data.Concat(q.Grad.Data).Select(g => (double)g).ToArray();
        double expected = Math.Sqrt(before.Sum(g => g * g));

        float norm = GradientClipping.ClipGlobalNorm([p, q], 1f);

        Assert.Equal(expected, norm, expected * 1e-6);
        double scale = 1.0 / (expected + 1e-6);
        var after = p.Grad.Data.Concat(q.Grad!.Data).ToArray();
        for (int i = 0; i < before.Length; i += 997)
            Assert.Equal(before[i] * scale, after[i], 1e-7);
    }

    [Fact]
    public void NonFiniteNormIsReturnedWithoutTouchingTheGradients()
    {
        var p = new Parameter(new float[2], 2) { Grad = new Tensor([float.PositiveInfinity, 1f], 2) };
        Assert.Equal(float.PositiveInfinity, GradientClipping.ClipGlobalNorm([p], 1f));
        Assert.Equal([float.PositiveInfinity, 1f], p.Grad!.Data);
    }

    [Fact]
    public void NoGradientsGiveANormOfZero() =>
        Assert.Equal(0f, GradientClipping.ClipGlobalNorm([new Parameter([1f], 1)], 1f));

    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void InvalidLimitThrows(float maxNorm) =>
        Assert.Throws<CondenseException>(() => GradientClipping.ClipGlobalNorm([new Parameter([1f], 1)], maxNorm));
}
