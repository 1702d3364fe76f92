// The direct int8 convolution (QConv2dDirect: padded planar int16 image, tap pairs through vpmaddwd) against
// the naive NCHW loops of QConv2dReference on what QConv2dTests' square cases leave out: rectangular kernels,
// unequal strides and dilations, asymmetric padding, odd tap counts, extreme codes (x = 0/255, w = −128/127
// with z_x at both ends), channel counts past every tile's row limit, and images split over 1 and 2 threads; on
// every path, and for the uint8 channel-quad convolution (QConv2dQuads) with every int8 dot product this CPU runs
// (vpdpbusd where AVX-VNNI exists, always its exact AVX2 emulation), input channel counts not multiples of 4.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QConv2dDirectTests
{
    // (N, C, H, W, M, kH, kW, options, z_x)
    private static readonly (int N, int C, int H, int W, int M, int KH, int KW, Conv2dOptions O, byte Zx)[] Cases =
    [
        (2, 2, 11, 13, 9, 3, 2, new Conv2dOptions(StrideH: 2, StrideW: 3, PadTop: 1, PadLeft: 0, PadBottom: 2, PadRight: 1), 17),
        (1, 3, 10, 9, 13, 2, 3, new Conv2dOptions(PadTop: 0, PadLeft: 2, PadBottom: 1, PadRight: 0, DilationH: 2, DilationW: 1), 255),
        (2, 1, 17, 5, 25, 5, 1, new Conv2dOptions(StrideH: 3, StrideW: 1, PadTop: 3, PadLeft: 1, PadBottom: 0, PadRight: 2, DilationH: 1, DilationW: 2), 0),
        (1, 7, 4, 40, 4, 1, 1, new Conv2dOptions(), 128),
        (3, 5, 6, 6, 8, 3, 3, new Conv2dOptions(StrideH: 2, StrideW: 2, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2), 1),
        (2, 9, 7, 6, 13, 3, 2, new Conv2dOptions(PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 0), 200),
        (1, 8, 5, 19, 7, 1, 3, new Conv2dOptions(StrideW: 2, PadLeft: 1, PadRight: 1), 128),
        (2, 4, 3, 37, 5, 3, 3, new Conv2dOptions(PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1), 60),
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
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, c.KH, c.KW, c.O);
        var rng = new Rng((ulong)(index + 100));
        // Mostly the extreme codes, so the largest pair products (255·−128) and sums are hit.
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(3) switch { 0 => 0, 1 => 255, _ => (byte)rng.NextInt(256) };
        var w = new sbyte[c.M * c.C * c.KH * c.KW];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextInt(3) switch { 0 => -128, 1 => 127, _ => (sbyte)(rng.NextInt(256) - 128) };
        var (actual, requantized, expected, expectedY) = Run(g, x, c.Zx, w, rng, path, dot);
        Assert.Equal(expected, actual);
        Assert.Equal(expectedY, requantized);
    }

    [Theory]
    [InlineData(Int8Dot.Pairs)]
    [InlineData(Int8Dot.EmulatedQuads)]
    public void ImagesSplitOverThreadsGiveTheSameBits(Int8Dot dot)
    {
        if (!Cpu.Supports(dot)) return;   // no AVX2: the quads cannot run
        // LeNet's conv1 (pairs) or conv2 (quads) on 64 images: above the parallel threshold, so two threads take 32 images each.
        var g = dot == Int8Dot.Pairs ? new Conv2dGeometry(64, 1, 28, 28, 6, 5, 5, Conv2dOptions.Square(1, 2, 1))
            : new Conv2dGeometry(64, 6, 12, 12, 16, 5, 5, new Conv2dOptions());
        var rng = new Rng(7);
        var x = new byte[g.Batch * g.InChannels * g.InPixels];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var w = new sbyte[g.OutChannels * g.ColumnRows];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(256) - 128);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            Cpu.ThreadsOnThisThread = 1;
            var (one, oneY, expected, expectedY) = Run(g, x, 9, w, new Rng(8), Cpu.Best, dot);
            Cpu.ThreadsOnThisThread = 2;
            var (two, twoY, _, _) = Run(g, x, 9, w, new Rng(8), Cpu.Best, dot);
            Assert.Equal(expected, one);
            Assert.Equal(one, two);
            Assert.Equal(expectedY, oneY);
            Assert.Equal(oneY, twoY);
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [InlineData(1, 5, 6, 3, 3)]
    [InlineData(2, 13, 4, 2, 5)]
    public unsafe void QuadLayoutIsExactForOneAndTwoChannels(int channels, int outChannels, int size, int kernel, byte zx)
    {
        // QConv2d sends C < 3 to the pair kernels; the quad convolution must still be right there (3 or 2 padding channels).
        if (!Cpu.Supports(Int8Dot.EmulatedQuads)) return;   // no AVX2
        var g = new Conv2dGeometry(2, channels, size, size + 3, outChannels, kernel, kernel, Conv2dOptions.Square(1, 1, 1));
        var rng = new Rng(11);
        var x = new byte[g.Batch * channels * g.InPixels];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var w = new sbyte[outChannels * g.ColumnRows];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(256) - 128);
        var bias = Enumerable.Range(0, outChannels).Select(o => o * 1000 - 5000).ToArray();
        var expected = QConv2dReference.Forward(g, x, zx, w, bias);
        var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(w, outChannels, channels, kernel, kernel), outChannels, g.ColumnRows);
        var acc = new int[expected.Length];
        fixed (byte* px = x)
        fixed (int* pb = bias, pa = acc)
            QConv2dQuads<EmulatedDot4>.Forward(g, px, zx, packed, pb, null, null, 0, 0, 0, null, pa);
        Assert.Equal(expected, acc);
    }

    // The accumulators and requantized codes, next to the reference's.
    private static (int[] Acc, byte[] Y, int[] ExpectedAcc, byte[] ExpectedY) Run(Conv2dGeometry g, byte[] x, byte zx, sbyte[] w, Rng rng,
        KernelPath path, Int8Dot dot)
    {
        int m = g.OutChannels;
        var bias = new int[m];
        for (int o = 0; o < m; o++) bias[o] = rng.NextInt(200001) - 100000;
        var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++) Requantize.QuantizeMultiplier(0.0001 + 0.001 * rng.NextDouble(), out multiplier[o], out shift[o]);
        var expected = QConv2dReference.Forward(g, x, zx, w, bias);
        var expectedY = QConv2dReference.Requantized(g, expected, multiplier, shift, 90, 90, 250);

        var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(w, m, g.InChannels, g.KernelH, g.KernelW), m, g.ColumnRows);
        var acc = new int[expected.Length];
        var y = new byte[expected.Length];
        using (Cpu.Force(path))
        using (Cpu.Force(dot))
        using (QConv2dWinograd.Force(false))   // the direct kernels; QConv2dWinogradTests has Winograd's
        {
            QConv2d.Forward(g, x, zx, packed, bias, acc);
            QConv2d.ForwardRequantized(g, x, zx, packed, bias, multiplier, shift, 90, 90, 250, y);
        }
        return (acc, y, expected, expectedY);
    }
}
