// Tensor.Conv2d and the Conv2d layer: gradients of input, weight and bias against central finite
// differences (with stride, asymmetric padding, dilation, groups and depthwise), the forward against the
// naive seven-loop reference, PyTorch's parameter names, shapes and initialisation bounds, and one-line
// errors for bad shapes.
using Condense.Kernels.Conv;
using Condense.Nn;
using Condense.Tensors;
using static Condense.Tests.Autograd.GradCheck;

namespace Condense.Tests.Autograd;

public class Conv2dTests
{
    public static TheoryData<string, int[], int[], bool, int[]> GradientCases() => new()
    {
        // name, input (N, C, H, W), weight (M, C/g, kH, kW), bias, [strideH, strideW, pads t l b r, dilH, dilW, groups]
        { "plain", [2, 2, 5, 4], [3, 2, 3, 3], true, [1, 1, 0, 0, 0, 0, 1, 1, 1] },
        { "stride and padding", [2, 2, 6, 5], [3, 2, 3, 3], true, [2, 2, 1, 1, 1, 1, 1, 1, 1] },
        { "asymmetric padding", [1, 3, 5, 5], [2, 3, 2, 3], false, [1, 2, 0, 2, 1, 0, 1, 1, 1] },
        { "dilation", [1, 2, 7, 6], [2, 2, 3, 2], true, [1, 1, 1, 1, 1, 1, 2, 3, 1] },
        { "groups", [2, 4, 5, 5], [6, 2, 3, 3], true, [1, 1, 1, 1, 1, 1, 1, 1, 2] },
        { "depthwise strided", [1, 3, 6, 6], [3, 1, 3, 3], true, [2, 1, 1, 1, 0, 1, 1, 1, 3] },
        { "pointwise", [2, 3, 3, 4], [4, 3, 1, 1], true, [1, 1, 0, 0, 0, 0, 1, 1, 1] },
    };

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void GradientsMatchFiniteDifferences(string name, int[] inputShape, int[] weightShape, bool bias, int[] o)
    {
        _ = name;
        var options = new Conv2dOptions(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8]);
        Tensor[] inputs = bias
            ? [Random(1, inputShape), Random(2, weightShape), Random(3, weightShape[0])]
            : [Random(1, inputShape), Random(2, weightShape)];
        Check(t => Tensor.Conv2d(t[0], t[1], bias ? t[2] : null, options), inputs);
    }

    [Fact]
    public void GradientsAccumulateWhenTheTensorIsUsedTwice()
    {
        // x feeds two convolutions; its gradient is the sum of both paths (the kernel's accumulate mode).
        Check(t => Tensor.Conv2d(t[0], t[1], null, padding: 1).Add(Tensor.Conv2d(t[0], t[2])),
            [Random(4, 1, 2, 4, 4), Random(5, 2, 2, 3, 3), Random(6, 2, 2, 1, 1)]);
    }

    [Fact]
    public void ForwardMatchesTheReferenceLoops()
    {
        var x = Random(7, 3, 4, 9, 8);
        var w = Random(8, 6, 2, 3, 2);
        var b = Random(9, 6);
        var options = new Conv2dOptions(2, 1, 1, 0, 2, 1, 1, 2, 2);
        var y = Tensor.Conv2d(x, w, b, options);
        var g = Conv2dGeometry.Of(x.Shape, w.Shape, options);
        Assert.Equal(g.OutputShape, y.Shape);
        var expected = new float[y.Size];
        Conv2dReference.Forward(g, x.Data, w.Data, b.Data, expected);
        for (int i = 0; i < expected.Length; i++) Assert.True(MathF.Abs(expected[i] - y.Data[i]) <= 1e-5f, $"[{i}]");
    }

    [Fact]
    public void LayerHasPyTorchNamesShapesAndInitialisation()
    {
        var conv = new Conv2d(6, 16, 5, stride: 2, padding: 1, groups: 2, rng: new Rng(3));
        var state = conv.StateDict();
        Assert.Equal(["weight", "bias"], state.Keys);
        Assert.Equal([16, 3, 5, 5], conv.Weight.Shape);
        Assert.Equal([16], conv.Bias!.Shape);
        Assert.Equal((6, 16, 5, 5), (conv.InChannels, conv.OutChannels, conv.KernelH, conv.KernelW));
        // kaiming_uniform(a = √5) bound = 1/√fan_in, fan_in = 3·5·5 = 75; a spread close to the bound shows it is the bound used.
        float bound = 1f / MathF.Sqrt(75);
        foreach (var p in new Tensor[] { conv.Weight, conv.Bias })
            Assert.All(p.Data, v => Assert.InRange(v, -bound, bound));
        Assert.True(conv.Weight.Data.Max() > 0.9f * bound && conv.Weight.Data.Min() < -0.9f * bound);
        Assert.Null(new Conv2d(1, 2, 3, bias: false).Bias);
        Assert.Equal(["weight"], new Conv2d(1, 2, 3, bias: false).StateDict().Keys);

        var x = Random(10, 2, 6, 11, 11);
        var y = conv.Forward(x);
        var expected = Tensor.Conv2d(x, conv.Weight, conv.Bias, stride: 2, padding: 1, groups: 2);
        Assert.Equal([2, 16, 5, 5], y.Shape);
        Assert.Equal(expected.Data, y.Data);
        // Same seed, same weights.
        Assert.Equal(conv.Weight.Data, new Conv2d(6, 16, 5, stride: 2, padding: 1, groups: 2, rng: new Rng(3)).Weight.Data);
    }

    [Fact]
    public void BadShapesAreOneLineErrors()
    {
        var x = Random(11, 1, 3, 8, 8);
        foreach (var act in new Action[]
        {
            () => Tensor.Conv2d(x, Random(12, 4, 2, 3, 3)),                  // channels do not match
            () => Tensor.Conv2d(x.Reshape(3, 8, 8), Random(12, 4, 3, 3, 3)), // rank 3
            () => Tensor.Conv2d(x, Random(12, 4, 3, 3, 3), Random(13, 5)),   // bias length
            () => Tensor.Conv2d(x, Random(12, 4, 3, 9, 9)),                  // kernel larger than the input
            () => Tensor.Conv2d(x, Random(12, 4, 1, 3, 3), null, groups: 3).Sum().Item().ToString(), // 4 outputs, 3 groups
            () => _ = new Conv2d(3, 4, 3, groups: 2),
            () => _ = new Conv2d(3, 4, 0),
        })
        {
            var e = Assert.Throws<CondenseException>(act);
            Assert.DoesNotContain('\n', e.Message);
        }
    }
}
