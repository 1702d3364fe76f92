// Finite-difference checks of the gradients of the ops added for ONNX import: batched and 1-D MatMul,
// Pow with a broadcast tensor exponent, Max/Min along an axis, Pad in every mode, and GELU.
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class OnnxOpGradientTests
{
    [Theory]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 4, 5 })]
    [InlineData(new[] { 3, 1, 2, 4 }, new[] { 5, 4, 3 })]
    [InlineData(new[] { 4 }, new[] { 2, 4, 3 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4 })]
    [InlineData(new[] { 4 }, new[] { 4 })]
    [InlineData(new[] { 3, 4 }, new[] { 2, 4, 5 })]
    public void BatchedMatMulGradients(int[] a, int[] b) =>
        GradCheck.Check(x => x[0].MatMul(x[1]), [GradCheck.Random(1, a), GradCheck.Random(2, b)]);

    [Fact]
    public void BatchedMatMulMatchesNaiveLoopsWithBroadcastBatches()
    {
        var a = GradCheck.Random(3, 3, 1, 2, 4);
        var b = GradCheck.Random(4, 5, 4, 3);
        var y = a.MatMul(b);
        Assert.Equal([3, 5, 2, 3], y.Shape);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++)
                for (int r = 0; r < 2; r++)
                    for (int c = 0; c < 3; c++)
                    {
                        double s = 0;
                        for (int k = 0; k < 4; k++) s += a.Data[(i * 2 + r) * 4 + k] * b.Data[(j * 4 + k) * 3 + c];
                        Assert.Equal(s, y.Data[((i * 5 + j) * 2 + r) * 3 + c], 4);
                    }
    }

    [Fact]
    public void PowWithBroadcastExponentGradients()
    {
        var x = Tensor.Uniform(new Rng(5), 0.5f, 2f, 3, 4);
        var p = Tensor.Uniform(new Rng(6), -1.5f, 2.5f, 4);
        GradCheck.Check(t => t[0].Pow(t[1]), [x, p], eps: 1e-3f);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void MaxAndMinAlongAxisGradients(int axis, bool keep)
    {
        GradCheck.Check(t => t[0].Max(axis, keep), [GradCheck.Random(7, 3, 4, 5)], eps: 1e-3f);
        GradCheck.Check(t => t[0].Min(axis, keep), [GradCheck.Random(8, 3, 4, 5)], eps: 1e-3f);
    }

    [Theory]
    [InlineData(PadMode.Constant)]
    [InlineData(PadMode.Reflect)]
    [InlineData(PadMode.Edge)]
    [InlineData(PadMode.Wrap)]
    public void PadGradients(PadMode mode) =>
        GradCheck.Check(t => t[0].Pad([1, 2, 0, -1], mode, 0.5f), [GradCheck.Random(9, 3, 4)]);

    [Fact]
    public void PadModesMatchTheirDefinitions()
    {
        var x = new Tensor([1f, 2f, 3f], 3);
        Assert.Equal([9f, 9f, 1f, 2f, 3f, 9f], x.Pad([2, 1], PadMode.Constant, 9f).Data);
        Assert.Equal([3f, 2f, 1f, 2f, 3f, 2f, 1f], x.Pad([2, 2], PadMode.Reflect).Data);
        Assert.Equal([1f, 1f, 1f, 2f, 3f, 3f, 3f], x.Pad([2, 2], PadMode.Edge).Data);
        Assert.Equal([2f, 3f, 1f, 2f, 3f, 1f, 2f], x.Pad([2, 2], PadMode.Wrap).Data);
        Assert.Equal([2f], x.Pad([-1, -1]).Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeluGradients(bool tanh) =>
        GradCheck.Check(t => t[0].Gelu(tanh), [Tensor.Uniform(new Rng(10), -3f, 3f, 4, 5)], eps: 1e-3f);
}
