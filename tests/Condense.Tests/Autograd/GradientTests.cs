using Condense.Tensors;
using static Condense.Tests.Autograd.GradCheck;

namespace Condense.Tests.Autograd;

public class GradientTests
{
    [Theory]
    [InlineData(new[] { 3, 4 }, new[] { 3, 4 })]
    [InlineData(new[] { 3, 4 }, new[] { 4 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 3, 1 })]
    [InlineData(new[] { 1 }, new[] { 2, 5 })]
    [InlineData(new int[0], new[] { 2, 3 })]
    public void BroadcastArithmetic(int[] shapeA, int[] shapeB)
    {
        Check(x => x[0] + x[1], [Random(1, shapeA), Random(2, shapeB)]);
        Check(x => x[0] - x[1], [Random(3, shapeA), Random(4, shapeB)]);
        Check(x => x[0] * x[1], [Random(5, shapeA), Random(6, shapeB)]);
        var b = Random(8, shapeB); for (int i = 0; i < b.Size; i++) b.Data[i] = 1.5f + b.Data[i] * 0.5f;
        Check(x => x[0] / x[1], [Random(7, shapeA), b]);
    }

    [Fact]
    public void SameTensorOnBothSides() => Check(x => x[0] * x[0] + x[0], [Random(9, 3, 5)]);

    [Fact]
    public void Activations()
    {
        var x = Random(10, 4, 7);
        for (int i = 0; i < x.Size; i++) if (MathF.Abs(x.Data[i]) < 0.05f) x.Data[i] = 0.3f; // keep away from ReLU's kink
        Check(t => t[0].Relu(), [x.Clone()]);
        Check(t => t[0].LeakyRelu(0.1f), [x.Clone()]);
        Check(t => t[0].Sigmoid(), [x.Clone()]);
        Check(t => t[0].Tanh(), [x.Clone()]);
        Check(t => t[0].Exp(), [x.Clone()]);
        var positive = Random(11, 3, 3); for (int i = 0; i < positive.Size; i++) positive.Data[i] = 1.2f + positive.Data[i];
        Check(t => t[0].Log(), [positive]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    public void SoftmaxAndLogSoftmax(int axis)
    {
        Check(t => t[0].Softmax(axis), [Random(12, 3, 4, 5)]);
        Check(t => t[0].LogSoftmax(axis), [Random(13, 3, 4, 5)]);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void GemmAllTransposes(bool transA, bool transB)
    {
        int m = 5, n = 3, k = 7;
        var a = transA ? Random(14, k, m) : Random(14, m, k);
        var b = transB ? Random(15, n, k) : Random(15, k, n);
        Check(t => Tensor.Gemm(t[0], t[1], t[2], 0.7f, 1.3f, transA, transB), [a, b, Random(16, n)]);
        Check(t => Tensor.Gemm(t[0], t[1], t[2], 1f, 0.5f, transA, transB), [a.Clone(), b.Clone(), Random(17, m, 1)]);
    }

    [Fact]
    public void MatMulAndLinear()
    {
        Check(t => t[0].MatMul(t[1]), [Random(18, 4, 6), Random(19, 6, 3)]);
        Check(t => t[0].MatMul(t[1]), [Random(20, 2, 3, 6), Random(21, 6, 3)]);
        Check(t => Tensor.Linear(t[0], t[1], t[2]), [Random(22, 9, 6), Random(23, 4, 6), Random(24, 4)]);
    }

    [Fact]
    public void ShapesAndReductions()
    {
        Check(t => t[0].Reshape(6, -1), [Random(25, 2, 3, 4)]);
        Check(t => t[0].Flatten(1), [Random(26, 2, 3, 4)]);
        Check(t => t[0].Transpose(), [Random(27, 3, 5)]);
        Check(t => t[0].Sum(), [Random(28, 3, 5)]);
        Check(t => t[0].Mean(), [Random(29, 3, 5)]);
        Check(t => t[0].Sum(1), [Random(30, 2, 3, 4)]);
        Check(t => t[0].Mean(0, keepDim: true), [Random(31, 2, 3, 4)]);
        Check(t => t[0].Mul(2.5f), [Random(32, 2, 3)]);
    }

    [Fact]
    public void DropoutUsesTheSameMaskForwardAndBackward()
    {
        var x = Random(33, 8, 16);
        x.RequiresGrad = true;
        var y = x.Dropout(0.5f, new Rng(3));
        y.Sum().Backward();
        int zeros = 0;
        for (int i = 0; i < x.Size; i++)
        {
            bool dropped = y.Data[i] == 0f;
            Assert.Equal(dropped ? 0f : 2f, x.Grad!.Data[i]);
            if (!dropped) Assert.Equal(2f * x.Data[i], y.Data[i], 6);
            zeros += dropped ? 1 : 0;
        }
        Assert.InRange(zeros, 40, 88);
    }

    [Fact]
    public void CrossEntropyMatchesComposedLogSoftmaxAndItsGradient()
    {
        var logits = Random(34, 6, 5);
        int[] labels = [0, 4, 2, 2, 1, 3];
        Check(t => Tensor.CrossEntropy(t[0], labels), [logits]);
        // value: −mean log_softmax(z)[y], from composed ops
        var composed = logits.Detach().LogSoftmax();
        double expected = -labels.Select((y, i) => (double)composed[i, y]).Average();
        Assert.Equal(expected, Tensor.CrossEntropy(logits.Detach(), labels).Item(), 5);
    }

    [Fact]
    public void CrossEntropyIsStableForHugeLogits()
    {
        var logits = new Tensor([1000f, 0f, -1000f, 0f], 2, 2);
        // row 0 predicts its label with margin 1000 (loss ≈ 0); row 1 misses it by 1000 (loss ≈ 1000)
        var loss = Tensor.CrossEntropy(logits, [0, 0]).Item();
        Assert.True(float.IsFinite(loss));
        Assert.Equal(500.0, loss, 3);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var x = Random(35, 3);
        x.RequiresGrad = true;
        x.Mul(2f).Sum().Backward();
        x.Mul(3f).Sum().Backward();
        Assert.All(x.Grad!.Data, g => Assert.Equal(5f, g));
    }
}
