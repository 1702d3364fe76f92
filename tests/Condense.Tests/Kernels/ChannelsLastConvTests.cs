// The channels-last kernels (Kernels/Conv/ChannelsLastConv, DepthwiseChannelsLast, DirectChannelsLast) against the naive
// convolution (Conv2dReference) on channels-first images, transposed by index in the test: a stem of few taps (channels-first
// in, channels-last out: 3 × 3 stride 2, 5 × 5 over two channels, dilation 2, 7 and 20 output channels for the scalar and
// lane parts, rows wide enough for its tiles of 8 and 16 pixels); depthwise with 3×3, 5×3, 5×5 and 5×7 kernels, strides 1
// and 2, uneven pads, dilation 2, channel counts that use 16-lane, 8-lane and scalar parts (5, 16, 24, 40, 48), a 20 × 1
// kernel; 1×1 at stride 1 and 2 over uneven channel counts; each with and without a bias, residual and clamp, on every
// kernel path, one and two threads giving the same bits. The layout changes and the channels-last global average pooling
// against index formulas.
using Condense.Kernels.Conv;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed unsafe class ChannelsLastConvTests
{
    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    private static readonly (int C, int H, int W, int KH, int KW, ConvParameters P)[] Depthwise =
    [
        (16, 7, 7, 3, 3, new(1, 1, 1, 1, 1, 1, 1, 1, 16)),
        (24, 9, 6, 3, 3, new(2, 2, 1, 1, 1, 1, 1, 1, 24)),
        (40, 8, 8, 3, 3, new(2, 2, 0, 1, 1, 0, 1, 1, 40)),
        (5, 6, 7, 3, 3, new(1, 1, 1, 1, 1, 1, 1, 1, 5)),
        (48, 5, 9, 5, 3, new(1, 2, 2, 1, 2, 1, 1, 1, 48)),
        (24, 9, 9, 3, 3, new(1, 1, 2, 2, 2, 2, 2, 2, 24)),
        (17, 3, 3, 3, 3, new(1, 1, 1, 1, 1, 1, 1, 1, 17)),
        (16, 24, 5, 20, 1, new(1, 1, 9, 0, 10, 0, 1, 1, 16)),   // taller than the kernel rows kept on the stack
        // 5×5 (four pixels at a time on AVX-512): a ragged last group of pixels, stride 2, uneven pads, 16-lane + 8-lane channels.
        (40, 6, 13, 5, 5, new(1, 1, 2, 2, 2, 2, 1, 1, 40)),
        (72, 9, 11, 5, 5, new(2, 2, 2, 1, 1, 2, 1, 1, 72)),
        (16, 5, 18, 5, 7, new(1, 1, 2, 3, 2, 3, 1, 1, 16)),
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public void DepthwiseMatchesTheReference(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var rng = new Rng(5);
        foreach (var (c, h, w, kh, kw, p) in Depthwise)
            foreach (bool extras in new[] { false, true })
            {
                var g = new Conv2dGeometry(2, c, h, w, c, kh, kw, p);
                var (x, weight, bias) = (Random(rng, g.Batch * c * h * w), Random(rng, c * kh * kw), Random(rng, c));
                var residual = Random(rng, g.Batch * c * g.OutPixels);
                var clamp = extras ? new VectorClamp(-0.25f, 0.5f) : default;
                var expected = Reference(g, x, weight, extras ? bias : [], extras ? residual : null, clamp);
                var packed = DepthwiseChannelsLast.Pack(weight, c, kh, kw);
                var outputs = ForThreads(g, last => Fixed(Last(x, g.Batch, c, h * w), packed, bias, last, Last(residual, g.Batch, c, g.OutPixels),
                    (px, pw, pb, py, pr) => DepthwiseChannelsLast.Forward(path, g, px, pw, extras ? pb : null, py, extras ? pr : null, clamp)));
                AssertClose(expected, First(outputs, g.Batch, c, g.OutPixels), $"{g} extras {extras}");
            }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PointwiseMatchesTheReference(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var rng = new Rng(6);
        foreach (var (c, m, hw, stride) in new[] { (7, 13, 5, 1), (33, 40, 6, 1), (16, 96, 9, 2), (48, 24, 7, 2), (3, 1, 4, 1) })
            foreach (bool extras in new[] { false, true })
            {
                var g = new Conv2dGeometry(3, c, hw, hw, m, 1, 1, new ConvParameters(stride, stride, 0, 0, 0, 0, 1, 1, 1));
                var (x, weight, bias) = (Random(rng, g.Batch * c * hw * hw), Random(rng, m * c), Random(rng, m));
                var residual = Random(rng, g.Batch * m * g.OutPixels);
                var clamp = extras ? new VectorClamp(0f, 0.75f) : default;
                var expected = Reference(g, x, weight, extras ? bias : [], extras ? residual : null, clamp);
                var packedWeight = ChannelsLastConv.PackPointwise(path, weight, m, c);
                var outputs = ForThreads(g, last => Fixed(Last(x, g.Batch, c, hw * hw), [], bias, last, Last(residual, g.Batch, m, g.OutPixels),
                    (px, _, pb, py, pr) => ChannelsLastConv.Pointwise(path, g, px, packedWeight, extras ? pb : null, py, extras ? pr : null, clamp)));
                AssertClose(expected, First(outputs, g.Batch, m, g.OutPixels), $"{g} extras {extras}");
            }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void AStemOfFewTapsMatchesTheReference(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var rng = new Rng(8);
        foreach (var (c, m, h, w, k, p) in new (int, int, int, int, int, ConvParameters)[]
        {
            (3, 32, 15, 14, 3, new(2, 2, 1, 1, 1, 1, 1, 1, 1)), (2, 20, 9, 13, 5, new(1, 1, 2, 2, 2, 2, 1, 1, 1)),
            (2, 16, 11, 11, 3, new(1, 2, 0, 2, 2, 1, 2, 2, 1)), (1, 7, 6, 6, 3, new(1, 1, 1, 1, 1, 1, 1, 1, 1)),
            // ShuffleNet's 24 channels and 40: a whole vector or two, then the last 16 for the rest.
            (3, 24, 15, 14, 3, new(2, 2, 1, 1, 1, 1, 1, 1, 1)), (3, 40, 9, 10, 3, new(1, 1, 1, 1, 1, 1, 1, 1, 1)),
            // Rows wide enough for the tiles of sixteen sums: 8 pixels × 32 channels, 16 × 16 (also for the last 16 of 24 and
            // of 48), with dilation.
            (3, 32, 7, 40, 3, new(2, 2, 1, 1, 1, 1, 1, 1, 1)), (3, 16, 5, 38, 3, new(1, 1, 1, 1, 1, 1, 1, 1, 1)),
            (3, 24, 7, 40, 3, new(2, 2, 1, 1, 1, 1, 1, 1, 1)), (2, 48, 8, 30, 3, new(1, 1, 2, 2, 2, 2, 2, 2, 1)),
        })
            foreach (bool extras in new[] { false, true })
            {
                var g = new Conv2dGeometry(2, c, h, w, m, k, k, p);
                var (x, weight, bias) = (Random(rng, g.Batch * c * h * w), Random(rng, m * c * k * k), Random(rng, m));
                var residual = Random(rng, g.Batch * m * g.OutPixels);
                var clamp = extras ? new VectorClamp(0f, 0.4f) : default;
                var expected = Reference(g, x, weight, extras ? bias : [], extras ? residual : null, clamp);
                var packed = DirectChannelsLast.Pack(weight, m, g.ColumnRows);
                var outputs = ForThreads(g, last => Fixed(x, packed, bias, last, Last(residual, g.Batch, m, g.OutPixels),
                    (px, pw, pb, py, pr) => DirectChannelsLast.Forward(path, g, px, pw, extras ? pb : null, py, extras ? pr : null, clamp)));
                AssertClose(expected, First(outputs, g.Batch, m, g.OutPixels), $"{g} extras {extras}");
            }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 13, 11)]
    [InlineData(3, 16, 64)]
    [InlineData(1, 9, 17)]
    public void LayoutChangesAndPoolingFollowTheIndexFormulas(int batch, int channels, int pixels)
    {
        var x = Random(new Rng(7), batch * channels * pixels);
        var last = new float[x.Length];
        var back = new float[x.Length];
        var pooled = new float[batch * channels];
        fixed (float* px = x, pl = last, pb = back, pp = pooled)
        {
            ChannelsLastConv.ToChannelsLast(px, pl, batch, channels, pixels);
            ChannelsLastConv.ToChannelsFirst(pl, pb, batch, channels, pixels);
            ChannelsLastConv.GlobalAveragePool(pl, pp, batch, pixels, channels);
        }
        Assert.Equal(Last(x, batch, channels, pixels), last);
        Assert.Equal(x, back);
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                double mean = Enumerable.Range(0, pixels).Average(p => (double)x[(n * channels + c) * pixels + p]);
                Assert.True(Math.Abs(pooled[n * channels + c] - mean) <= 1e-5, $"image {n} channel {c}: {pooled[n * channels + c]} vs {mean}");
            }
    }

    private delegate void Kernel(float* x, float* w, float* b, float* y, float* residual);

    // Runs the kernel on one and then two threads; the two outputs must have the same bits.
    private static float[] ForThreads(Conv2dGeometry g, Func<float[], float[]> run)
    {
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            Cpu.ThreadsOnThisThread = 1;
            var one = run(new float[g.Batch * g.OutChannels * g.OutPixels]);
            Cpu.ThreadsOnThisThread = 2;
            var two = run(new float[one.Length]);
            Assert.Equal(one, two);
            return one;
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    private static float[] Fixed(float[] x, float[] w, float[] b, float[] y, float[] residual, Kernel kernel)
    {
        fixed (float* px = x, pw = w, pb = b, py = y, pr = residual) kernel(px, pw, pb, py, pr);
        return y;
    }

    // The naive convolution plus the bias, then the residual, then the clamp, all channels-first.
    private static float[] Reference(Conv2dGeometry g, float[] x, float[] w, float[] b, float[]? residual, VectorClamp clamp)
    {
        var y = new float[g.Batch * g.OutChannels * g.OutPixels];
        Conv2dReference.Forward(g, x, w, b, y);
        for (int i = 0; i < y.Length; i++) y[i] = clamp.Apply(residual is null ? y[i] : y[i] + residual[i]);
        return y;
    }

    // (N, C, P) → (N, P, C) and back, by index.
    private static float[] Last(float[] x, int n, int c, int p)
    {
        var y = new float[x.Length];
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) for (int k = 0; k < p; k++) y[(i * p + k) * c + j] = x[(i * c + j) * p + k];
        return y;
    }

    private static float[] First(float[] x, int n, int c, int p)
    {
        var y = new float[x.Length];
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) for (int k = 0; k < p; k++) y[(i * c + j) * p + k] = x[(i * p + k) * c + j];
        return y;
    }

    private static float[] Random(Rng rng, int count) => [.. Enumerable.Range(0, count).Select(_ => rng.NextFloat() - 0.5f)];

    private static void AssertClose(float[] expected, float[] actual, string where)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"{where}: {actual[i]} vs {expected[i]} at {i}");
    }
}
