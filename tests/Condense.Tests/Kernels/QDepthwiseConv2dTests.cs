// The int8 depthwise convolution (QDepthwiseConv2d) against its spec, the naive loops of QConv2dReference with groups = C:
// equal integers, before and after requantization, on ragged shapes (odd sizes, stride 1 and 2, symmetric and asymmetric
// padding, dilation, 3×3 and 5×5, channel multipliers, several zero points), on every kernel path and on 1 and 2 threads
// (one case above the parallel threshold). QConv2dReference with groups = 1 is checked by QConv2dTests.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QDepthwiseConv2dTests
{
    // (batch, C, channel multiplier, H, W, kernel, stride, pads top/left/bottom/right, dilation, z_x)
    private static readonly (int N, int C, int K, int H, int W, int Kernel, int S, int[] Pads, int D, byte Zx)[] Cases =
    [
        (1, 8, 1, 7, 7, 3, 1, [1, 1, 1, 1], 1, 0), (2, 5, 1, 9, 11, 3, 2, [1, 1, 1, 1], 1, 128),
        (3, 3, 1, 13, 17, 5, 1, [2, 2, 2, 2], 1, 7), (1, 6, 1, 12, 15, 5, 2, [0, 0, 0, 0], 1, 255),
        (2, 4, 1, 10, 9, 3, 2, [0, 1, 1, 0], 1, 31), (1, 7, 1, 8, 21, 3, 1, [0, 0, 0, 0], 2, 13),
        (2, 3, 2, 9, 9, 3, 1, [1, 2, 0, 1], 1, 90), (1, 1, 1, 3, 3, 3, 1, [1, 1, 1, 1], 1, 200),
        (1, 4, 1, 11, 41, 3, 2, [1, 1, 1, 1], 1, 77), (2, 3, 1, 8, 40, 3, 2, [0, 0, 1, 1], 1, 5),   // stride 2 in vector steps and tails
        (1, 2, 1, 6, 37, 5, 2, [2, 2, 2, 2], 1, 250), (1, 2, 1, 7, 33, 3, 1, [1, 1, 1, 1], 1, 64),
        (2, 32, 1, 97, 95, 3, 1, [1, 1, 1, 1], 1, 9),   // above the parallel threshold: planes split over threads
    ];

    public static TheoryData<KernelPath, int, int> PathCases()
    {
        var data = new TheoryData<KernelPath, int, int>();
        foreach (var path in Cpu.SupportedPaths)
            for (int i = 0; i < Cases.Length; i++)
                foreach (int threads in new[] { 1, 2 }) data.Add(path, i, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(PathCases))]
    public void MatchesTheNaiveLoopsExactly(KernelPath path, int index, int threads)
    {
        var c = Cases[index];
        int m = c.C * c.K;
        var options = new Conv2dOptions(c.S, c.S, c.Pads[0], c.Pads[1], c.Pads[2], c.Pads[3], c.D, c.D, c.C);
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, m, c.Kernel, c.Kernel, options);
        var rng = new Rng((ulong)(index + 1));
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var w = new sbyte[m * c.Kernel * c.Kernel];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(255) - 127);
        var bias = new int[m];
        for (int o = 0; o < m; o++) bias[o] = rng.NextInt(20001) - 10000;
        var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++) Requantize.QuantizeMultiplier(0.002 + 0.01 * rng.NextDouble(), out multiplier[o], out shift[o]);

        var expected = QConv2dReference.Forward(g, x, c.Zx, w, bias);
        var (acc, y) = TransformerKernelsTests.WithThreads(threads, () =>
        {
            var acc = new int[expected.Length];
            var y = new byte[expected.Length];
            using (Cpu.Force(path))
            {
                QDepthwiseConv2d.Forward(g, x, c.Zx, w, bias, acc);
                QDepthwiseConv2d.ForwardRequantized(g, x, c.Zx, w, bias, multiplier, shift, 100, 20, 240, y);
            }
            return (acc, y);
        });
        Assert.Equal(expected, acc);
        Assert.Equal(QConv2dReference.Requantized(g, expected, multiplier, shift, 100, 20, 240), y);
    }

    [Fact]
    public void WithoutBiasTheSumsAreThePlainTaps()
    {
        var g = new Conv2dGeometry(1, 2, 5, 5, 2, 3, 3, Conv2dOptions.Square(1, 1, 1, 2));
        var x = Enumerable.Range(0, 50).Select(i => (byte)(i * 5)).ToArray();
        var w = Enumerable.Range(0, 18).Select(i => (sbyte)(i - 9)).ToArray();
        var acc = new int[50];
        QDepthwiseConv2d.Forward(g, x, 3, w, [], acc);
        Assert.Equal(QConv2dReference.Forward(g, x, 3, w, []), acc);
    }

    [Fact]
    public void RefusesAGroupedConvolutionThatIsNotDepthwise()
    {
        var g = new Conv2dGeometry(1, 4, 5, 5, 4, 3, 3, Conv2dOptions.Square(1, 1, 1, 2));
        var e = Assert.Throws<ArgumentException>(() => QDepthwiseConv2d.Forward(g, new byte[100], 0, new sbyte[72], [], new int[100]));
        Assert.Contains("depthwise", e.Message);
    }
}
