// Tensor.ConvTranspose2d against the definition written as a plain loop (every input pixel scatters its weighted
// kernel into the output: y[n, g·M/G + m, i·s − p + a·d, …] += x[n, c, i, j] · w[c, m, a, b]), and its gradients into
// input, weight and bias against finite differences.
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class ConvTransposeTests
{
    private static float[] Naive(Tensor x, Tensor w, Tensor? bias, Conv2dOptions o, int outH, int outW)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3], perGroupOut = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        int groups = o.Groups, outC = perGroupOut * groups, perGroupIn = c / groups;
        var y = new float[n * outC * outH * outW];
        for (int b = 0; b < n; b++)
            for (int ci = 0; ci < c; ci++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < wd; j++)
                        for (int m = 0; m < perGroupOut; m++)
                            for (int a = 0; a < kh; a++)
                                for (int e = 0; e < kw; e++)
                                {
                                    int oy = i * o.StrideH - o.PadTop + a * o.DilationH, ox = j * o.StrideW - o.PadLeft + e * o.DilationW;
                                    if (oy < 0 || oy >= outH || ox < 0 || ox >= outW) continue;
                                    int mo = ci / perGroupIn * perGroupOut + m;
                                    y[((b * outC + mo) * outH + oy) * outW + ox] +=
                                        x.Data[((b * c + ci) * h + i) * wd + j] * w.Data[((ci * perGroupOut + m) * kh + a) * kw + e];
                                }
        if (bias is not null)
            for (int k = 0; k < y.Length; k++) y[k] += bias.Data[k / (outH * outW) % outC];
        return y;
    }

    public static TheoryData<int, int, int, int, int, int> Cases() => new()
    {
        // stride, pad (top/left), pad (bottom/right), dilation, groups, output padding
        { 1, 0, 0, 1, 1, 0 }, { 2, 1, 0, 1, 1, 1 }, { 2, 0, 1, 2, 2, 0 }, { 3, 1, 1, 1, 1, 2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheScatterDefinitionAndFiniteDifferences(int stride, int padBegin, int padEnd, int dilation, int groups, int outputPadding)
    {
        var x = GradCheck.Random(41, 2, 4, 3, 4);
        var w = GradCheck.Random(42, 4, 3, 3, 2);
        var b = GradCheck.Random(43, 3 * groups);
        var o = new Conv2dOptions(stride, stride, padBegin, padBegin, padEnd, padEnd, dilation, dilation, groups);
        int outH = stride * 2 + outputPadding + 2 * dilation + 1 - padBegin - padEnd, outW = stride * 3 + outputPadding + dilation + 1 - padBegin - padEnd;
        var y = Tensor.ConvTranspose2d(x, w, b, o, outH, outW);
        Assert.Equal([2, 3 * groups, outH, outW], y.Shape);
        var expected = Naive(x, w, b, o, outH, outW);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], y.Data[i], 4);
        GradCheck.Check(t => Tensor.ConvTranspose2d(t[0], t[1], t[2], o, outH, outW), [x, w, b], eps: 1e-3f);
    }

    [Fact]
    public void AnOutputSizeTheConvolutionCannotGiveBackIsOneLine()
    {
        var e = Assert.Throws<CondenseException>(() =>
            Tensor.ConvTranspose2d(GradCheck.Random(1, 1, 2, 3, 3), GradCheck.Random(2, 2, 1, 3, 3), null, Conv2dOptions.Default, 9, 5));
        Assert.DoesNotContain('\n', e.Message);
    }
}
