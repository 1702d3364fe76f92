// The int8 depthwise convolution (QDepthwiseConv2d) against its spec, the naive loops of QConv2dReference with groups = C:
// equal integers, before and after requantization, in both forms (channels in lanes and planar), on ragged shapes (odd
// sizes, strides 1 to 3, symmetric and asymmetric padding, dilation, 1×1, 3×3 and 5×5, channel multipliers, channel counts
// with and without a planar last block, several zero points, the extreme products, narrow clamps, multipliers above 1 and
// of int.MinValue), on every kernel path and on 1, 2 and 3 threads; and the channels-last form (AVX-512 kernel as dot
// products or as vpmaddwd, lanes, or through planes) on the same shapes. QConv2dReference with groups = 1 is checked by QConv2dTests.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QDepthwiseConv2dTests
{
    /// <summary>
    /// A shape: batch, C, channel multiplier, H, W, square kernel, stride, pads top/left/bottom/right, dilation, z_x; a stride
    /// or dilation along W when it differs; Extreme: codes 0/255, weights −128/127 and multipliers from 2^-12 to 4 with one
    /// of int.MinValue per eight channels; the output clamp.
    /// </summary>
    public sealed record Case(int N, int C, int K, int H, int W, int Kernel, int S, int[] Pads, int D, byte Zx,
        int Sw = 0, int Dw = 0, bool Extreme = false, byte Qmin = 20, byte Qmax = 240);

    private static readonly Case[] Cases =
    [
        new(1, 8, 1, 7, 7, 3, 1, [1, 1, 1, 1], 1, 0), new(2, 5, 1, 9, 11, 3, 2, [1, 1, 1, 1], 1, 128),
        new(3, 3, 1, 13, 17, 5, 1, [2, 2, 2, 2], 1, 7), new(1, 6, 1, 12, 15, 5, 2, [0, 0, 0, 0], 1, 255),
        new(2, 4, 1, 10, 9, 3, 2, [0, 1, 1, 0], 1, 31), new(1, 7, 1, 8, 21, 3, 1, [0, 0, 0, 0], 2, 13),
        new(2, 3, 2, 9, 9, 3, 1, [1, 2, 0, 1], 1, 90), new(1, 1, 1, 3, 3, 3, 1, [1, 1, 1, 1], 1, 200),
        new(1, 4, 1, 11, 41, 3, 2, [1, 1, 1, 1], 1, 77), new(2, 3, 1, 8, 40, 3, 2, [0, 0, 1, 1], 1, 5),   // stride 2 in vector steps and tails
        new(1, 2, 1, 6, 37, 5, 2, [2, 2, 2, 2], 1, 250), new(1, 2, 1, 7, 33, 3, 1, [1, 1, 1, 1], 1, 64),
        new(2, 32, 1, 97, 95, 3, 1, [1, 1, 1, 1], 1, 9),   // above the parallel threshold: planes split over threads
        // Channels in lanes: one block, a block and a planar rest, three blocks; 7×7 and 1×1 images; strides 2 and 3.
        new(1, 8, 1, 7, 7, 3, 2, [1, 1, 1, 1], 1, 3), new(2, 13, 1, 7, 7, 3, 1, [1, 1, 1, 1], 1, 200),
        new(1, 24, 1, 7, 7, 3, 1, [1, 1, 1, 1], 1, 128), new(2, 24, 1, 1, 1, 3, 1, [1, 1, 1, 1], 1, 60),
        new(1, 24, 1, 1, 1, 1, 1, [0, 0, 0, 0], 1, 17), new(1, 16, 1, 15, 14, 3, 3, [1, 1, 1, 1], 1, 99),
        new(1, 13, 1, 19, 23, 3, 2, [0, 0, 1, 1], 1, 140), new(2, 8, 1, 12, 13, 3, 1, [2, 2, 2, 2], 2, 45),
        new(1, 16, 1, 17, 18, 5, 1, [2, 2, 2, 2], 1, 230), new(1, 9, 1, 16, 16, 5, 2, [1, 2, 2, 1], 1, 11),
        new(1, 16, 1, 14, 19, 3, 1, [1, 1, 1, 1], 1, 70, Sw: 2), new(1, 8, 1, 13, 21, 3, 1, [2, 3, 2, 3], 2, 70, Dw: 3),
        new(1, 8, 1, 9, 10, 4, 1, [1, 2, 2, 1], 1, 33), new(2, 40, 2, 9, 9, 3, 1, [1, 1, 1, 1], 1, 90),   // even kernel; multiplier 2
        // The extreme products, sums and requantization, with wide and narrow clamps.
        new(1, 16, 1, 9, 9, 3, 1, [1, 1, 1, 1], 1, 0, Extreme: true, Qmin: 0, Qmax: 255),
        new(1, 13, 1, 11, 7, 5, 2, [2, 2, 2, 2], 1, 255, Extreme: true, Qmin: 0, Qmax: 255),
        new(1, 24, 1, 8, 8, 3, 1, [1, 1, 1, 1], 1, 250, Extreme: true, Qmin: 90, Qmax: 110),
        new(1, 8, 1, 10, 6, 3, 2, [0, 0, 1, 1], 1, 1, Qmin: 120, Qmax: 121),
        new(2, 45, 1, 81, 79, 3, 1, [1, 1, 1, 1], 1, 77),   // above the parallel threshold: 12 lane blocks over 2 or 3 threads
        // The dot-product form (4 taps of a kernel row per dot): 5×5 at stride 2 (two dots per row, columns of both), 7×7,
        // an even kernel, dilation along the height only (a ring of 5 rows), the extreme products on 5×5, a layer split
        // between threads.
        new(1, 32, 1, 11, 13, 5, 2, [2, 2, 2, 2], 1, 45), new(2, 16, 1, 9, 12, 7, 1, [3, 3, 3, 3], 1, 180),
        new(1, 16, 1, 12, 11, 4, 1, [1, 2, 2, 1], 1, 33), new(1, 16, 1, 13, 14, 3, 1, [2, 1, 2, 1], 2, 70, Dw: 1),
        new(1, 16, 1, 11, 7, 5, 2, [2, 2, 2, 2], 1, 255, Extreme: true, Qmin: 0, Qmax: 255),
        new(2, 48, 1, 150, 150, 3, 1, [1, 1, 1, 1], 1, 99),   // above the channels-last threshold: runs of rows claimed by the threads
        // Channels-last on AVX-512 (C a multiple of 16): three blocks, stride 2, asymmetric padding, narrow images and dilation.
        new(1, 48, 1, 7, 7, 3, 2, [0, 0, 1, 1], 1, 21, Qmin: 0, Qmax: 170), new(2, 32, 1, 3, 2, 3, 1, [1, 1, 1, 1], 1, 250),
        new(1, 16, 1, 13, 21, 3, 1, [2, 3, 2, 3], 2, 70, Dw: 3), new(1, 64, 1, 30, 29, 3, 1, [1, 1, 1, 1], 1, 128),
    ];

    public static TheoryData<KernelPath, int, int> PathCases() => Rows(_ => true, 1, 2, 3);

    // (path, case, threads) for every kernel path, the cases kept and the thread counts given.
    private static TheoryData<KernelPath, int, int> Rows(Func<Case, bool> keep, params int[] threadCounts)
    {
        var data = new TheoryData<KernelPath, int, int>();
        foreach (var path in Cpu.SupportedPaths)
            for (int i = 0; i < Cases.Length; i++)
                if (keep(Cases[i]))
                    foreach (int threads in threadCounts) data.Add(path, i, threads);
        return data;
    }

    [Theory]
    [MemberData(nameof(PathCases))]
    public void BothFormsMatchTheNaiveLoopsExactly(KernelPath path, int index, int threads)
    {
        var c = Cases[index];
        var (g, x, w, bias, multiplier, shift) = Problem(c, index);
        var expected = QConv2dReference.Forward(g, x, c.Zx, w, bias);
        var requantized = QConv2dReference.Requantized(g, expected, multiplier, shift, 100, c.Qmin, c.Qmax);
        foreach (bool lanes in new[] { true, false })
        {
            var (acc, y) = Forced(path, threads, lanes, () =>
            {
                var acc = new int[expected.Length];
                var y = new byte[expected.Length];
                QDepthwiseConv2d.Forward(g, x, c.Zx, w, bias, acc);
                QDepthwiseConv2d.ForwardRequantized(g, x, c.Zx, w, bias, multiplier, shift, 100, c.Qmin, c.Qmax, y);
                return (acc, y);
            });
            Assert.Equal(expected, acc);
            Assert.Equal(requantized, y);
        }
    }

    public static TheoryData<KernelPath, int, int> ChannelsLastCases() => Rows(c => c.K == 1, 1, 3);

    // ForwardChannelsLast on (N, H, W, C) codes equals the reference's planes laid out channels-last: natively where it can
    // (the AVX-512 kernel for C a multiple of 16, the lanes form for a multiple of 8), through planes where it cannot.
    [Theory]
    [MemberData(nameof(ChannelsLastCases))]
    public void TheChannelsLastFormMatchesTheNaiveLoopsExactly(KernelPath path, int index, int threads)
    {
        var c = Cases[index];
        var (g, x, w, bias, multiplier, shift) = Problem(c, index);
        var planar = QConv2dReference.Requantized(g, QConv2dReference.Forward(g, x, c.Zx, w, bias), multiplier, shift, 100, c.Qmin, c.Qmax);
        var expected = new byte[planar.Length];
        ChannelsLast.FromPlanar(planar, g.Batch, g.OutChannels, g.OutPixels, expected);
        var nhwc = new byte[x.Length];
        ChannelsLast.FromPlanar(x, g.Batch, g.InChannels, g.InPixels, nhwc);
        foreach (var (native, dots) in new[] { (true, true), (true, false), (false, false) })
        {
            var (y, isNative) = Forced(path, threads, native, () =>
            {
                var y = new byte[expected.Length];
                QDepthwiseConv2d.ForwardChannelsLast(g, nhwc, c.Zx, w, bias, multiplier, shift, 100, c.Qmin, c.Qmax, y);
                return (y, QDepthwiseConv2d.ChannelsLastIsNative(g));
            }, dots);
            Assert.Equal(expected, y);
            Assert.Equal(native && path != KernelPath.Scalar && (c.C % 16 == 0 && path == KernelPath.Avx512 || c.C % 8 == 0), isNative);
        }
    }

    // The AVX-512 channels-last kernel keeps a weight array's lanes between calls ([w, −z_x·w]): a second input zero point
    // on the same array must make new ones.
    [Fact]
    public void TheChannelsLastLanesFollowTheInputZeroPoint()
    {
        int index = Array.FindIndex(Cases, c => c.C == 64);
        var c = Cases[index];
        var (g, x, w, bias, multiplier, shift) = Problem(c, index);
        var nhwc = new byte[x.Length];
        ChannelsLast.FromPlanar(x, g.Batch, g.InChannels, g.InPixels, nhwc);
        foreach (byte zx in new byte[] { 0, 200, 0 })
        {
            var planar = QConv2dReference.Requantized(g, QConv2dReference.Forward(g, x, zx, w, bias), multiplier, shift, 100, c.Qmin, c.Qmax);
            var expected = new byte[planar.Length];
            ChannelsLast.FromPlanar(planar, g.Batch, g.OutChannels, g.OutPixels, expected);
            var y = new byte[expected.Length];
            QDepthwiseConv2d.ForwardChannelsLast(g, nhwc, zx, w, bias, multiplier, shift, 100, c.Qmin, c.Qmax, y);
            Assert.Equal(expected, y);
        }
    }

    // run() on `threads` threads with the kernel path forced, the lanes/channels-last kernels allowed or not, and the
    // AVX-512 channels-last kernel's dot-product form allowed or not.
    private static T Forced<T>(KernelPath path, int threads, bool lanes, Func<T> run, bool dots = true) => TransformerKernelsTests.WithThreads(threads, () =>
    {
        using (Cpu.Force(path))
            try
            {
                (QDepthwiseConv2d.ForceLanes, QDepthwiseConv2d.ForceDots) = (lanes, dots);
                return run();
            }
            finally { (QDepthwiseConv2d.ForceLanes, QDepthwiseConv2d.ForceDots) = (null, null); }
    });

    private static (Conv2dGeometry G, byte[] X, sbyte[] W, int[] Bias, int[] Multiplier, int[] Shift) Problem(Case c, int index)
    {
        int m = c.C * c.K, sw = c.Sw == 0 ? c.S : c.Sw, dw = c.Dw == 0 ? c.D : c.Dw;
        var options = new Conv2dOptions(c.S, sw, c.Pads[0], c.Pads[1], c.Pads[2], c.Pads[3], c.D, dw, c.C);
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, m, c.Kernel, c.Kernel, options);
        var rng = new Rng((ulong)(index + 1));
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = c.Extreme ? (byte)(rng.NextInt(2) * 255) : (byte)rng.NextInt(256);
        var w = new sbyte[m * c.Kernel * c.Kernel];
        for (int i = 0; i < w.Length; i++) w[i] = c.Extreme ? (sbyte)(rng.NextInt(2) == 0 ? -128 : 127) : (sbyte)(rng.NextInt(255) - 127);
        var bias = new int[m];
        for (int o = 0; o < m; o++) bias[o] = rng.NextInt(20001) - 10000;
        var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++)
        {
            double real = c.Extreme ? Math.Pow(2, -12 + 14 * rng.NextDouble()) : 0.002 + 0.01 * rng.NextDouble();
            Requantize.QuantizeMultiplier(real, out multiplier[o], out shift[o]);
            if (c.Extreme && o % 8 == 5) (multiplier[o], shift[o]) = (int.MinValue, o % 3 - 1);
        }
        return (g, x, w, bias, multiplier, shift);
    }

    [Fact]
    public void AnyThreadCountGivesTheSameBytes()
    {
        int index = Cases.Length - 1;
        var c = Cases[index];
        var (g, x, w, bias, multiplier, shift) = Problem(c, index);
        byte[] Run(int threads) => TransformerKernelsTests.WithThreads(threads, () =>
        {
            var y = new byte[g.Batch * g.OutChannels * g.OutPixels];
            QDepthwiseConv2d.ForwardRequantized(g, x, c.Zx, w, bias, multiplier, shift, 100, c.Qmin, c.Qmax, y);
            return y;
        });
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
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
