// The int8 convolution (the direct kernel of QConv2dDirect) against its spec, the naive loops of
// QConv2dReference: equal integers, before and after requantization, on ragged shapes with stride,
// padding, dilation and several zero points, on every kernel path and int8 dot product (the channel-quad
// convolution where C ≥ 3), one image split over threads by output channels; the uint8 max pooling against
// the float kernel on the same codes.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QConv2dTests
{
    // (batch, C, H, W, M, kernel, stride, pad, dilation, z_x)
    private static readonly (int N, int C, int H, int W, int M, int K, int S, int P, int D, byte Zx)[] Cases =
    [
        (1, 1, 7, 7, 3, 3, 1, 1, 1, 0), (2, 3, 9, 11, 5, 3, 2, 1, 1, 128), (3, 6, 12, 12, 16, 5, 1, 0, 1, 7),
        (2, 4, 8, 7, 7, 3, 1, 2, 2, 255), (1, 33, 5, 5, 17, 1, 1, 0, 1, 13), (2, 1, 28, 28, 6, 5, 1, 2, 1, 31),
        (9, 1, 28, 28, 6, 5, 1, 2, 1, 3),   // enough rows to pack on several threads
        (1, 16, 30, 31, 40, 3, 1, 1, 1, 9),   // one image above the parallel threshold: output channel blocks 16 + 24 on two threads
    ];

    public static TheoryData<KernelPath, Int8Dot, int> PathCases()
    {
        var data = new TheoryData<KernelPath, Int8Dot, int>();
        var kernels = Cpu.SupportedPaths.Select(path => (path, Int8Dot.Pairs))
            .Concat(Cpu.SupportedInt8Dots.Where(dot => dot != Int8Dot.Pairs && Cpu.Best != KernelPath.Scalar).Select(dot => (Cpu.Best, dot)));
        foreach (var (path, dot) in kernels)
            for (int i = 0; i < Cases.Length; i++) data.Add(path, dot, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(PathCases))]
    public void MatchesTheNaiveLoopsExactly(KernelPath path, Int8Dot dot, int index)
    {
        var c = Cases[index];
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, c.K, c.K, Conv2dOptions.Square(c.S, c.P, c.D));
        var rng = new Rng((ulong)(index + 1));
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var w = new sbyte[c.M * c.C * c.K * c.K];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(255) - 127);
        var bias = new int[c.M];
        for (int o = 0; o < c.M; o++) bias[o] = rng.NextInt(20001) - 10000;
        var multiplier = new int[c.M]; var shift = new int[c.M];
        for (int o = 0; o < c.M; o++) Requantize.QuantizeMultiplier(0.0005 + 0.001 * rng.NextDouble(), out multiplier[o], out shift[o]);

        var expected = QConv2dReference.Forward(g, x, c.Zx, w, bias);
        var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(w, c.M, c.C, c.K, c.K), c.M, g.ColumnRows);
        var acc = new int[expected.Length];
        var y = new byte[expected.Length];
        using (Cpu.Force(path))
        using (Cpu.Force(dot))
        using (QConv2dWinograd.Force(false))   // the direct kernels; QConv2dWinogradTests has Winograd's
        {
            QConv2d.Forward(g, x, c.Zx, packed, bias, acc);
            QConv2d.ForwardRequantized(g, x, c.Zx, packed, bias, multiplier, shift, 100, 100, 255, y);
        }
        Assert.Equal(expected, acc);
        Assert.Equal(QConv2dReference.Requantized(g, expected, multiplier, shift, 100, 100, 255), y);
    }

    [Theory]
    [InlineData(2, 0, 1, false)]
    [InlineData(3, 1, 1, false)]
    [InlineData(3, 1, 2, true)]
    [InlineData(2, 0, 2, false)]   // the vector path (8 outputs a step) and its scalar tail
    [InlineData(2, 0, 2, true)]    // ceil mode: the last column's window leaves the image, so the plain loops
    [InlineData(3, 1, 2, false)]   // ResNet's stem pool: rows then byte pairs, vector and tail
    [InlineData(3, 0, 2, false)]
    [InlineData(3, 1, 1, true)]    // stride 1 (GoogLeNet's pooling branch): rows' max, then shifted loads, vector and tail
    [InlineData(3, 0, 1, false)]
    [InlineData(5, 2, 1, false)]
    [InlineData(2, 1, 1, false)]
    public void MaxPoolOnCodesEqualsFloatMaxPool(int kernel, int pad, int stride, bool ceil)
    {
        int n = 2, c = 5, h = 9, w = 37;
        var window = PoolWindow.Square(kernel, stride, pad, 1, ceil);
        var (oh, ow) = window.OutputSize(h, w);
        var rng = new Rng(3);
        var codes = new byte[n * c * h * w];
        for (int i = 0; i < codes.Length; i++) codes[i] = (byte)rng.NextInt(256);
        var expected = new float[n * c * oh * ow];
        Pooling.MaxForward(codes.Select(v => (float)v).ToArray(), expected, n * c, h, w, window);

        var pooled = new byte[expected.Length];
        QConv2d.MaxPool(codes, n, h, w, c, window, pooled);
        Assert.Equal(expected.Select(v => (byte)v), pooled);
    }

    [Fact]
    public void MaxPoolSplitOverThreadsEqualsFloatMaxPool()
    {
        // 64 LeNet conv1 outputs (6 × 28 × 28): above the parallel threshold, so two threads take 192 planes each.
        int n = 64, c = 6, h = 28, w = 28;
        var window = PoolWindow.Square(2, 2, 0, 1, false);
        var rng = new Rng(4);
        var codes = new byte[n * c * h * w];
        for (int i = 0; i < codes.Length; i++) codes[i] = (byte)rng.NextInt(256);
        var expected = new float[n * c * 14 * 14];
        Pooling.MaxForward(codes.Select(v => (float)v).ToArray(), expected, n * c, h, w, window);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Cpu.ThreadsOnThisThread = threads;
                var pooled = new byte[expected.Length];
                QConv2d.MaxPool(codes, n, h, w, c, window, pooled);
                Assert.Equal(expected.Select(v => (byte)v), pooled);
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }
}
