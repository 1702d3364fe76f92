// The Winograd convolution (Kernels/Conv/Conv2dWinograd*.cs, WinogradTiles.*.cs) against the naive loops of
// Conv2dReference, for F(2×2, 3×3) and F(4×4, 3×3) on every kernel path: odd image sizes, padding 0 and 1 and uneven
// pads, channel counts that fill no vector or panel, batches, several tile blocks, K blocks and channel groups, with and
// without bias, residual and Relu; its bits for any thread count; its transformed weights (one per tile size) kept and
// replaced with the weight's Version; Auto's bound on F(4×4) weights; and its rounding error beside the direct convolution's,
// measured against a double-precision sum.
using Condense.Autograd;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;
using Xunit.Abstractions;

namespace Condense.Tests.Kernels;

public class Conv2dWinogradTests(ITestOutputHelper output)
{
    public sealed record Case(string Name, int N, int C, int H, int W, int M, int PadTop, int PadLeft, int PadBottom, int PadRight)
    {
        public Conv2dGeometry Geometry => new(N, C, H, W, M, 3, 3, new ConvParameters(1, 1, PadTop, PadLeft, PadBottom, PadRight, 1, 1, 1));
        public override string ToString() => Name;
    }

    private static readonly Case[] Cases =
    [
        new("odd 9x7, pad 1, ragged channels, batch 2", 2, 5, 9, 7, 13, 1, 1, 1, 1),
        new("pad 0, 8x11", 1, 3, 8, 11, 6, 0, 0, 0, 0),
        new("uneven pads", 2, 4, 7, 6, 5, 0, 1, 2, 1),
        new("one pixel, padded", 1, 2, 1, 1, 3, 1, 1, 1, 1),
        new("several tile blocks, batch 3", 3, 17, 13, 15, 20, 1, 1, 1, 1),
        new("several K blocks", 1, 200, 6, 5, 16, 1, 1, 1, 1),
        new("several channel groups", 1, 8, 5, 5, 130, 1, 1, 1, 1),
        new("threaded over blocks", 4, 64, 16, 16, 64, 1, 1, 1, 1),
        new("threaded over channels of one block", 1, 256, 12, 12, 96, 1, 1, 1, 1),
        new("wide rows, 28x28", 1, 16, 28, 28, 16, 1, 1, 1, 1),
        new("a block of 20 tiles (16 + 8 lanes)", 1, 9, 16, 20, 11, 1, 1, 1, 1),
    ];

    public static TheoryData<string> AllCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases) data.Add(c.Name);
        return data;
    }

    private static float[] Random(ulong seed, long count)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    // Tolerances relative to the largest |y|. Winograd reassociates the sum and scales it through its transforms
    // (F(4×4): Bᵀ rows sum to 10 in magnitude, Aᵀ rows to 19, G's entries are fractions rounded once), so its error is
    // that of the direct sum times a factor: measured on these cases against Conv2dReference (itself a float sum, ~1e-6
    // off) at most 1.6e-6 for F(2×2) and 9.2e-6 for F(4×4); on ResNet-18's layers against a double sum F(2×2) is below the
    // direct convolution's error and F(4×4) 2–7× above it (ConvolutionErrorBesideTheDirectConvolution). The tolerances
    // leave about 5× room, for other seeds and channel counts.
    private static float Tolerance(WinogradMode mode) => mode == WinogradMode.F4 ? 5e-5f : 1e-5f;

    private static void AssertClose(float[] expected, float[] actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tolerance * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    private static float[] Winograd(Conv2dGeometry g, WinogradMode mode, float[] x, float[] w, float[] b, float[] residual, bool relu)
    {
        using var _ = Conv2dWinograd.Force(mode);
        var y = new float[g.Batch * g.OutChannels * g.OutPixels];
        Array.Fill(y, float.NaN); // overwritten, never read
        Conv2dKernel.Forward(g, x, w, b, y, residual, relu, new Conv2dPackedWeights());
        return y;
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void MatchesTheNaiveLoopsOnEveryPathAndTileSize(string name)
    {
        var g = Cases.Single(c => c.Name == name).Geometry;
        var x = Random(1, g.Batch * g.InChannels * g.InPixels);
        var w = Random(2, g.OutChannels * g.ColumnRows);
        var b = Random(3, g.OutChannels);
        var residual = Random(4, g.Batch * g.OutChannels * g.OutPixels);
        var plain = new float[residual.Length];
        Conv2dReference.Forward(g, x, w, [], plain);
        var biased = new float[residual.Length];
        Conv2dReference.Forward(g, x, w, b, biased);
        var fused = biased.Select((v, i) => Math.Max(0f, v + residual[i])).ToArray();
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            foreach (var mode in new[] { WinogradMode.F2, WinogradMode.F4 })
            {
                AssertClose(plain, Winograd(g, mode, x, w, [], [], relu: false), Tolerance(mode), $"{path} {mode} conv");
                AssertClose(biased, Winograd(g, mode, x, w, b, [], relu: false), Tolerance(mode), $"{path} {mode} conv + b");
                AssertClose(fused, Winograd(g, mode, x, w, b, residual, relu: true), Tolerance(mode), $"{path} {mode} relu(conv + b + residual)");
            }
        }
    }

    [Fact]
    public void AutoNeverKeepsAFourByFourWeightBeyondTheLargeWeightBound()
    {
        // ResNet-18's 512 → 512 layer: F(4×4) would keep 36 × 512 × 512 floats (37.7 MB) beside the 9.4 MB kernel; F(2×2) 16.8 MB.
        using (Conv2dWinograd.Force(WinogradMode.Auto))
            foreach (int batch in new[] { 8, 64 })
            {
                var wide = new Conv2dGeometry(batch, 512, 7, 7, 512, 3, 3, Conv2dOptions.Square(1, 1));
                Assert.Equal(2, Conv2dWinograd.Choose(wide)?.Output);
                var narrow = new Conv2dGeometry(batch, 64, 56, 56, 64, 3, 3, Conv2dOptions.Square(1, 1));
                Assert.Equal(4, Conv2dWinograd.Choose(narrow)?.Output);
            }
    }

    [Fact]
    public void AtBatchOneAutoKeepsNoTransformedWeightBeyondThreeMegabytes()
    {
        // Inside a network such weights come from memory every call: ResNet-18's 256- and 512-channel layers (F(4×4) 9.4 MB,
        // F(2×2) 4.2 and 16.8 MB) run direct at batch 1, its 64- and 128-channel ones (0.6 and 2.4 MB) keep F(4×4).
        using (Conv2dWinograd.Force(WinogradMode.Auto))
        {
            foreach (var (channels, size, output) in new[] { (64, 56, 4), (128, 28, 4), (256, 14, 0), (512, 7, 0) })
            {
                var g = new Conv2dGeometry(1, channels, size, size, channels, 3, 3, Conv2dOptions.Square(1, 1));
                Assert.Equal(output, Conv2dWinograd.Choose(g)?.Output ?? 0);
            }
            Assert.Equal(4, Conv2dWinograd.Choose(new Conv2dGeometry(8, 256, 14, 14, 256, 3, 3, Conv2dOptions.Square(1, 1)))?.Output);
        }
    }

    [Fact]
    public void ResultsAreBitIdenticalForAnyThreadCount()
    {
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var c in Cases.Where(c => c.Name.Split(' ')[0] is "threaded" or "several"))
            {
                var g = c.Geometry;
                var x = Random(5, g.Batch * g.InChannels * g.InPixels);
                var w = Random(6, g.OutChannels * g.ColumnRows);
                var b = Random(7, g.OutChannels);
                var r = Random(8, g.Batch * g.OutChannels * g.OutPixels);
                foreach (var mode in new[] { WinogradMode.F2, WinogradMode.F4 })
                {
                    var runs = new List<float[]>();
                    foreach (int threads in new[] { 2, 1, 3, 2 })
                    {
                        Cpu.ThreadsOnThisThread = threads;
                        runs.Add(Winograd(g, mode, x, w, b, r, relu: true));
                    }
                    foreach (var run in runs) Assert.Equal(runs[0], run);
                }
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Fact]
    public void TheTransformedWeightIsKeptAndReplacedWithTheWeightsVersion()
    {
        var g = new Conv2dGeometry(1, 4, 6, 6, 5, 3, 3, new ConvParameters(1, 1, 1, 1, 1, 1, 1, 1, 1));
        var x = Random(9, g.Batch * g.InChannels * g.InPixels);
        var weight = new Tensor(Random(10, g.OutChannels * g.ColumnRows), g.WeightShape);
        using var _ = Conv2dWinograd.Force(WinogradMode.F4);
        using var noGrad = GradMode.NoGrad();
        float[] Run()
        {
            var y = new float[g.Batch * g.OutChannels * g.OutPixels];
            Conv2dKernel.Forward(g, x, weight.Data, [], y, [], relu: false, ConvWeightPacking.For(weight));
            return y;
        }
        var first = Run();
        var packed = ConvWeightPacking.For(weight)!;
        Assert.True(packed.Floats >= 36L * g.InChannels * g.OutChannels);
        Assert.Equal(first, Run());
        Assert.Same(packed, ConvWeightPacking.For(weight));
        for (int i = 0; i < weight.Size; i++) weight.Data[i] *= 2f;
        weight.MarkModified();
        var doubled = Run();
        Assert.NotSame(packed, ConvWeightPacking.For(weight));
        AssertClose(first.Select(v => 2f * v).ToArray(), doubled, Tolerance(WinogradMode.F4), "after the weight doubled");

        // Both tile sizes' weights are kept side by side (a layer may take F(2×2) at one batch size, F(4×4) at another).
        var both = ConvWeightPacking.For(weight)!;
        float[]? Kept(int tileOutput) => new[] { 4, 6, 8 }.Select(rows => both.FindWinograd(tileOutput, rows, g)).SingleOrDefault(u => u is not null);
        using (Conv2dWinograd.Force(WinogradMode.F2)) Run();
        var (f2, f4) = (Kept(2), Kept(4));
        Assert.NotNull(f2);
        Assert.NotNull(f4);
        Run();
        using (Conv2dWinograd.Force(WinogradMode.F2)) Run();
        Assert.Same(f2, Kept(2));
        Assert.Same(f4, Kept(4));
    }

    [Theory]
    [InlineData(1, 64, 56, 64)]
    [InlineData(1, 128, 28, 128)]
    [InlineData(1, 256, 14, 256)]
    [InlineData(1, 512, 7, 512)]
    public void ConvolutionErrorBesideTheDirectConvolution(int n, int c, int hw, int m)
    {
        // ResNet-18's 3×3 layers on inputs and weights uniform in [−1, 1] (He-scaled weights give the same relative error).
        var g = new Conv2dGeometry(n, c, hw, hw, m, 3, 3, new ConvParameters(1, 1, 1, 1, 1, 1, 1, 1, 1));
        var x = Random(11, g.Batch * g.InChannels * g.InPixels);
        var w = Random(12, g.OutChannels * g.ColumnRows);
        var exact = ExactConvolution(g, x, w);
        double largest = exact.Max(Math.Abs);
        double Error(float[] y) => y.Select((v, i) => Math.Abs(v - exact[i])).Max() / largest;
        double direct = Error(Winograd(g, WinogradMode.Off, x, w, [], [], false));
        double f2 = Error(Winograd(g, WinogradMode.F2, x, w, [], [], false));
        double f4 = Error(Winograd(g, WinogradMode.F4, x, w, [], [], false));
        output.WriteLine($"{c}x{hw}x{hw} -> {m}: max |error| / max |y|: direct {direct:E2}, F(2x2) {f2:E2}, F(4x4) {f4:E2}");
        // Measured: F(2×2) 0.1–0.4× the direct convolution's error, F(4×4) 2–7× (and below 1e-5).
        Assert.True(f2 <= 2 * direct && f4 <= 10 * direct, $"direct {direct:E2}, F(2x2) {f2:E2}, F(4x4) {f4:E2}");
    }

    // The convolution summed in double (Conv2dReference's loops), then rounded once.
    private static double[] ExactConvolution(Conv2dGeometry g, float[] x, float[] w)
    {
        var y = new double[g.Batch * g.OutChannels * g.OutPixels];
        int h = g.Height, wd = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double sum = 0;
                        for (int c = 0; c < g.InChannels; c++)
                            for (int ky = 0; ky < 3; ky++)
                            {
                                int iy = oy - g.Options.PadTop + ky;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < 3; kx++)
                                {
                                    int ix = ox - g.Options.PadLeft + kx;
                                    if (ix >= 0 && ix < wd)
                                        sum += (double)x[((n * g.InChannels + c) * h + iy) * wd + ix] * w[((m * g.InChannels + c) * 3 + ky) * 3 + kx];
                                }
                            }
                        y[((n * g.OutChannels + m) * oh + oy) * ow + ox] = sum;
                    }
        return y;
    }
}
