// The channels-last int8 convolution (QConv2d.ForwardChannelsLast: QConv2dNhwc's emitted zmm vpdpbusd kernels where the
// dot product is JitZmmQuads, else the planar kernels between transposes) against the naive NCHW loops of
// QConv2dReference, transposed, bit for bit: input channels not multiples of 4, 16 or 32 (3, 5, 17, 70), output channels
// past every tile and block edge (1, 13, 70, 130), 1×1, 3×3 and 7×7 kernels, stride 2, asymmetric padding, batch 1 and
// 3, on every int8 dot product this CPU runs; split over 1 and 2 threads; a requantization multiplier above 1; with a
// residual Add fused (the convolution's codes, then QAdd); every multiplier below 1 (the requantizer's path without the
// left shift); an upper clamp below 255 (a Clip's, before a fused Add too). Also the NHWC max pooling against the planar
// one, and the layout transposes round trip.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QConv2dChannelsLastTests
{
    // (N, C, H, W, M, kH, kW, options, z_x)
    private static readonly (int N, int C, int H, int W, int M, int K, Conv2dOptions O, byte Zx)[] Cases =
    [
        (1, 3, 23, 21, 13, 7, Conv2dOptions.Square(2, 3), 17),
        (3, 5, 9, 8, 70, 3, new Conv2dOptions(StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 0, PadBottom: 2, PadRight: 1), 255),
        (1, 17, 7, 7, 130, 3, Conv2dOptions.Square(1, 1), 0),
        (3, 70, 6, 5, 1, 1, Conv2dOptions.Square(2, 0), 128),
        (1, 64, 5, 6, 33, 1, new Conv2dOptions(), 3),
        (3, 12, 4, 11, 16, 3, new Conv2dOptions(PadTop: 2, PadLeft: 1, PadBottom: 0, PadRight: 2, DilationH: 2, DilationW: 1), 77),
    ];

    public static TheoryData<Int8Dot, int> DotCases()
    {
        var data = new TheoryData<Int8Dot, int>();
        foreach (var dot in Cpu.SupportedInt8Dots)
            for (int i = 0; i < Cases.Length; i++) data.Add(dot, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(DotCases))]
    public void MatchesTheNaiveLoopsExactly(Int8Dot dot, int index)
    {
        var c = Cases[index];
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, c.K, c.K, c.O);
        var (x, w, bias, multiplier, shift) = Problem(g, new Rng((ulong)(index + 300)));
        foreach (byte qmax in new byte[] { 255, 200 })
        {
            var (expected, actual) = Run(g, x, c.Zx, w, bias, multiplier, shift, dot, qmax);
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [InlineData(1, 5, 9, 8, 16, 3, 2, 0)]
    [InlineData(3, 17, 7, 6, 80, 3, 1, 1)]
    [InlineData(1, 3, 23, 21, 64, 7, 2, 3)]
    [InlineData(2, 64, 5, 5, 128, 1, 1, 0)]
    public void RightShiftRequantizationMatchesTheReference(int n, int c, int h, int w, int m, int k, int stride, int pad)
    {
        // Every channel's multiplier below 1, whole 16-channel panels: ChannelRequantizer without its left shift (zero points
        // at both ends, a ReLU floor).
        var g = new Conv2dGeometry(n, c, h, w, m, k, k, Conv2dOptions.Square(stride, pad));
        var (x, weight, bias, multiplier, shift) = Problem(g, new Rng((ulong)(m + c)), leftShifts: false);
        foreach (var dot in Cpu.SupportedInt8Dots)
            foreach (byte zx in new byte[] { 0, 255 })
            {
                var (expected, actual) = Run(g, x, zx, weight, bias, multiplier, shift, dot);
                Assert.Equal(expected, actual);
            }
    }

    [Theory]
    [MemberData(nameof(DotCases))]
    public void FusedAddEqualsTheConvolutionThenQAdd(Int8Dot dot, int index)
    {
        // The residual Add run on each requantized row (FusedAdd) against the separate steps: the reference's codes, then QAdd.
        var c = Cases[index];
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, c.K, c.K, c.O);
        var rng = new Rng((ulong)(index + 500));
        var (x, w, bias, multiplier, shift) = Problem(g, rng);
        // The convolution's codes clamped below 230 (a Clip's upper bound) before the Add.
        var (convCodes, _) = Run(g, x, c.Zx, w, bias, multiplier, shift, dot, 230);
        var other = new byte[convCodes.Length];
        for (int i = 0; i < other.Length; i++) other[i] = (byte)rng.NextInt(256);
        var (ma, mb, addShift) = QAdd.Multipliers(0.8, 1.7);
        var expected = new byte[convCodes.Length];
        QAdd.Forward(convCodes, 90, ma, other, 33, mb, addShift, 70, 70, expected);

        var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(w, g.OutChannels, g.InChannels, g.KernelH, g.KernelW), g.OutChannels, g.ColumnRows);
        var nhwc = new byte[x.Length + 3];
        ChannelsLast.FromPlanar(x, g.Batch, g.InChannels, g.InPixels, nhwc);
        var otherNhwc = new byte[other.Length];
        ChannelsLast.FromPlanar(other, g.Batch, g.OutChannels, g.OutPixels, otherNhwc);
        var y = new byte[expected.Length];
        using (Cpu.Force(Cpu.Best))
        using (Cpu.Force(dot))
            QConv2d.ForwardChannelsLast(g, nhwc, c.Zx, packed, bias, multiplier, shift, 90, 90, 230, y, new FusedAdd(90, ma, 33, mb, addShift, 70, 70),
                otherNhwc);
        var actual = new byte[y.Length];
        ChannelsLast.ToPlanar(y, g.Batch, g.OutChannels, g.OutPixels, actual);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ThreadSplitsGiveTheSameBits(int batch)
    {
        // Above the parallel threshold: units of (channel block, image, tile) split over two threads.
        var g = new Conv2dGeometry(batch, 40, 15, 13, 100, 3, 3, Conv2dOptions.Square(1, 1));
        var (x, w, bias, multiplier, shift) = Problem(g, new Rng(41));
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            Cpu.ThreadsOnThisThread = 1;
            var (expected, one) = Run(g, x, 40, w, bias, multiplier, shift, Cpu.SupportedInt8Dots[^1]);
            Cpu.ThreadsOnThisThread = 2;
            var (_, two) = Run(g, x, 40, w, bias, multiplier, shift, Cpu.SupportedInt8Dots[^1]);
            Assert.Equal(expected, one);
            Assert.Equal(one, two);
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [InlineData(2, 3, 11, 10, 3, 2, 1, false)]
    [InlineData(1, 70, 9, 9, 3, 2, 1, true)]
    [InlineData(3, 130, 6, 7, 2, 2, 0, false)]
    [InlineData(1, 16, 8, 5, 3, 1, 1, false)]
    public void MaxPoolMatchesThePlanarPooling(int n, int c, int h, int w, int kernel, int stride, int pad, bool ceil)
    {
        var window = new PoolParameters(kernel, kernel, stride, stride, pad, pad, pad, pad, 1, 1, ceil);
        var (oh, ow) = window.OutputSize(h, w);
        var rng = new Rng(9);
        var x = new byte[n * c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var planar = new byte[n * c * oh * ow];
        QConv2d.MaxPool(x, n, h, w, c, window, planar);
        var nhwc = new byte[x.Length];
        ChannelsLast.FromPlanar(x, n, c, h * w, nhwc);
        var pooled = new byte[planar.Length];
        QConv2d.MaxPoolChannelsLast(nhwc, n, h, w, c, window, pooled);
        var back = new byte[planar.Length];
        ChannelsLast.ToPlanar(pooled, n, c, oh * ow, back);
        Assert.Equal(planar, back);
    }

    [Theory]
    [InlineData(2, 3, 37)]
    [InlineData(1, 3, 64)]
    [InlineData(3, 5, 19)]
    [InlineData(2, 70, 9)]
    public void LayoutTransposesRoundTrip(int n, int c, int pixels)
    {
        var rng = new Rng(12);
        var x = new byte[n * c * pixels];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var nhwc = new byte[x.Length];
        ChannelsLast.FromPlanar(x, n, c, pixels, nhwc);
        for (int i = 0; i < x.Length; i++)
        {
            int image = i / (c * pixels), channel = i / pixels % c, pixel = i % pixels;
            Assert.Equal(x[i], nhwc[(image * pixels + pixel) * c + channel]);
        }
        var back = new byte[x.Length];
        ChannelsLast.ToPlanar(nhwc, n, c, pixels, back);
        Assert.Equal(x, back);
    }

    private static (byte[] X, sbyte[] W, int[] Bias, int[] Multiplier, int[] Shift) Problem(Conv2dGeometry g, Rng rng, bool leftShifts = true)
    {
        // Mostly the extreme codes, so the largest products (255·−128) and sums are hit.
        var x = new byte[g.Batch * g.InChannels * g.InPixels];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(3) switch { 0 => 0, 1 => 255, _ => (byte)rng.NextInt(256) };
        var w = new sbyte[g.OutChannels * g.ColumnRows];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextInt(3) switch { 0 => -128, 1 => 127, _ => (sbyte)(rng.NextInt(256) - 128) };
        int m = g.OutChannels;
        var bias = new int[m]; var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++)
        {
            bias[o] = rng.NextInt(200001) - 100000;
            // Mostly below 1 (a right shift), one channel in 7 above (a saturating left shift).
            double real = leftShifts && o % 7 == 3 ? 1.5 + rng.NextDouble() : 0.0001 + 0.001 * rng.NextDouble();
            Requantize.QuantizeMultiplier(real, out multiplier[o], out shift[o]);
        }
        return (x, w, bias, multiplier, shift);
    }

    // The reference's codes (N, M, OH, OW) and the channels-last convolution's, transposed back from (N, OH, OW, M).
    private static (byte[] Expected, byte[] Actual) Run(Conv2dGeometry g, byte[] x, byte zx, sbyte[] w, int[] bias, int[] multiplier,
        int[] shift, Int8Dot dot, byte qmax = 255)
    {
        var expected = QConv2dReference.Requantized(g, QConv2dReference.Forward(g, x, zx, w, bias), multiplier, shift, 90, 90, qmax);
        var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(w, g.OutChannels, g.InChannels, g.KernelH, g.KernelW), g.OutChannels, g.ColumnRows);
        var nhwc = new byte[x.Length + 3];
        ChannelsLast.FromPlanar(x, g.Batch, g.InChannels, g.InPixels, nhwc);
        var y = new byte[expected.Length];
        using (Cpu.Force(Cpu.Best))
        using (Cpu.Force(dot))
            QConv2d.ForwardChannelsLast(g, nhwc, zx, packed, bias, multiplier, shift, 90, 90, qmax, y);
        var actual = new byte[y.Length];
        ChannelsLast.ToPlanar(y, g.Batch, g.OutChannels, g.OutPixels, actual);
        return (expected, actual);
    }
}
