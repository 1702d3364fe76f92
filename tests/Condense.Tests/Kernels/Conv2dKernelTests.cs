// Conv2dKernel (direct tile kernels; im2col + GEMM for strided input gradients) against the naive
// seven-loop Conv2dReference on every kernel path: forward, input gradient, weight gradient and bias gradient over stride, asymmetric padding, dilation, groups
// (including depthwise and a channel multiplier), 1×1 kernels, kernels wider than the input, batches
// spanning several weight-gradient chunks, and shapes large enough to run on several threads; plus
// accumulation, bit-identical results for any thread count, and the generic im2col on bytes.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dKernelTests
{
    /// <summary>One convolution problem: sizes as (N, C, H, W) → M with a kH × kW kernel.</summary>
    public sealed record Case(string Name, int N, int C, int H, int W, int M, int KH, int KW, Conv2dOptions Options, bool Bias)
    {
        public Conv2dGeometry Geometry => new(N, C, H, W, M, KH, KW, Options);
        public override string ToString() => Name;
    }

    private static Conv2dOptions O(int sh = 1, int sw = 1, int pt = 0, int pl = 0, int pb = 0, int pr = 0, int dh = 1, int dw = 1, int g = 1) =>
        new(sh, sw, pt, pl, pb, pr, dh, dw, g);

    private static readonly Case[] Cases =
    [
        new("lenet conv1", 3, 1, 28, 28, 6, 5, 5, O(pt: 2, pl: 2, pb: 2, pr: 2), true),
        new("lenet conv2", 2, 6, 14, 14, 16, 5, 5, O(), true),
        new("stride 2 pad 1", 2, 3, 9, 7, 4, 3, 3, O(2, 2, 1, 1, 1, 1), true),
        new("asymmetric pads and strides", 1, 2, 6, 5, 3, 3, 2, O(1, 2, 0, 1, 2, 0), false),
        new("dilation", 2, 3, 10, 9, 4, 3, 3, O(pt: 2, pl: 2, pb: 2, pr: 2, dh: 2, dw: 3), true),
        new("groups 2", 2, 4, 7, 7, 6, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1, g: 2), true),
        new("depthwise", 2, 5, 8, 8, 5, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1, g: 5), true),
        new("depthwise multiplier 2, strided", 1, 3, 6, 6, 6, 3, 3, O(2, 1, 1, 0, 1, 0, g: 3), false),
        new("pointwise", 3, 8, 5, 4, 7, 1, 1, O(), true),
        new("1x1 stride 2", 2, 4, 7, 7, 5, 1, 1, O(2, 2), false),
        new("stride wider than kernel", 1, 2, 11, 11, 3, 2, 2, O(3, 3), true),
        new("kernel wider than input", 1, 1, 2, 2, 2, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        new("non-square kernel and input", 2, 2, 5, 9, 3, 2, 4, O(1, 1, 1, 0, 0, 2), true),
        new("batch of several chunks, ragged channels", 17, 3, 6, 5, 33, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        new("threaded resnet 3x3", 20, 16, 16, 16, 32, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        new("threaded pointwise", 9, 32, 16, 16, 32, 1, 1, O(), false),
        // The direct kernel's edges: several K blocks (K = 24·3·3 = 216 > 192) and channel-row panels, a 7×7
        // image (63 padded positions: a ragged tile), stride 3 with dilation (stride-phase planes), padding wider
        // than dilation·(k − 1) (the input gradient cannot be a flipped convolution), and an odd tap count.
        new("deep K, 7x7, several row panels", 3, 24, 7, 7, 20, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        new("stride 3 with dilation 2", 2, 3, 13, 11, 5, 3, 2, O(3, 3, 2, 1, 0, 2, 2, 2), true),
        new("1x1 with padding", 2, 3, 5, 6, 4, 1, 1, O(pt: 1, pl: 2, pb: 0, pr: 1), true),
        new("stride 2 grouped, ragged width", 3, 4, 9, 13, 6, 3, 3, O(2, 2, 1, 1, 1, 1, g: 2), false),
        // Rows of 16 floats and more: the stride-2 image copy splits them eight pairs at a time (StrideTwoSplit),
        // after an odd and an even left pad.
        new("stride 2, wide odd rows", 2, 3, 6, 37, 4, 3, 3, O(2, 2, 1, 1, 1, 1), true),
        new("stride 2, wide rows, no left pad", 1, 2, 5, 40, 3, 3, 3, O(2, 2, 0, 0, 1, 1), false),
        // One image split over the threads by channel panels (pixel tiles: 40 channels; channel tiles: 96 = three
        // panels of 32 for two threads), three images for two threads, and the channel tiles' edges: output rows cut
        // into runs (25 = 8 + 8 + 9), two groups of 32 channels, stride 2, a 1×1 kernel of 256 taps.
        new("one image over threads, pixel tiles", 1, 16, 32, 32, 40, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        new("one image over threads, channel tiles", 1, 64, 14, 25, 96, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        new("three images over threads, channel tiles", 3, 64, 10, 10, 64, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), false),
        new("channel tiles, two groups", 2, 64, 9, 7, 64, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1, g: 2), true),
        new("channel tiles, stride 2", 1, 32, 15, 15, 32, 3, 3, O(2, 2, 1, 1, 0, 0), true),
        new("channel tiles, 1x1 deep", 2, 256, 5, 6, 64, 1, 1, O(), true),
        // The AVX2 channel tiles (16 channels × up to 6 positions): runs that cross output rows (35 positions in 6 runs),
        // a transpose tail (35 = 4·8 + 3), three panels of 16, and a stem of one input channel (9 taps).
        new("avx2 channel tiles, runs across rows", 2, 5, 13, 9, 48, 3, 3, O(2, 2, 1, 1, 1, 1), true),
        new("avx2 channel tiles, one input channel", 3, 1, 10, 10, 16, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
        // A 1×1 convolution runs as a GEMM per image (Conv2dGemm), the images split between threads.
        new("1x1 pointwise, many images", 40, 32, 11, 13, 48, 1, 1, O(), true),
        // A padded image above the image-resident budget (2 × 262 × 261 floats; 3 channels for the input gradient): the
        // weight-resident order, whose strips of tiles end inside output rows.
        new("large image, weight-resident strips", 1, 2, 260, 259, 3, 3, 3, O(pt: 1, pl: 1, pb: 1, pr: 1), true),
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

    // |actual − expected| ≤ 1e-4 · max(1, max |expected|): both sum the same products in a different order.
    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void MatchesTheNaiveLoopsOnEveryPath(string name)
    {
        var c = Cases.Single(c => c.Name == name);
        var g = c.Geometry;
        var x = Random(1, g.Batch * g.InChannels * g.InPixels);
        var w = Random(2, g.OutChannels * g.ColumnRows);
        var b = c.Bias ? Random(3, g.OutChannels) : [];
        var dy = Random(4, g.Batch * g.OutChannels * g.OutPixels);
        var y = new float[dy.Length];
        var dx = new float[x.Length];
        var dw = new float[w.Length];
        var yRef = new float[dy.Length];
        var dxRef = new float[x.Length];
        var dwRef = new float[w.Length];
        Conv2dReference.Forward(g, x, w, b, yRef);
        Conv2dReference.BackwardInput(g, w, dy, dxRef);
        Conv2dReference.BackwardWeight(g, x, dy, dwRef);
        var dbRef = new float[g.OutChannels];
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                for (int p = 0; p < g.OutPixels; p++) dbRef[m] += dy[(n * g.OutChannels + m) * g.OutPixels + p];

        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            Array.Fill(y, float.NaN); Array.Fill(dx, float.NaN); Array.Fill(dw, float.NaN); // overwritten, never read
            var db = new float[g.OutChannels]; Array.Fill(db, float.NaN);
            Conv2dKernel.Forward(g, x, w, b, y);
            Conv2dKernel.BackwardInput(g, w, dy, dx, accumulate: false);
            Conv2dKernel.BackwardWeight(g, x, dy, dw, accumulate: false);
            Conv2dKernel.BackwardBias(g, dy, db, accumulate: false);
            AssertClose(yRef, y, $"{path} y");
            AssertClose(dxRef, dx, $"{path} dx");
            AssertClose(dwRef, dw, $"{path} dw");
            AssertClose(dbRef, db, $"{path} db");
        }
    }

    [Theory]
    [InlineData(0)]   // im2col path
    [InlineData(14)]  // pointwise path (dx written by the GEMM's beta)
    [InlineData(13)]  // several weight chunks
    [InlineData(2)]   // strided: the input gradient through im2col + GEMM + col2im
    [InlineData(18)]  // padding wider than the kernel: the same, at stride 1
    public void AccumulateAddsToTheGradientsAlreadyThere(int caseIndex)
    {
        var g = Cases[caseIndex].Geometry;
        var x = Random(5, g.Batch * g.InChannels * g.InPixels);
        var w = Random(6, g.OutChannels * g.ColumnRows);
        var dy = Random(7, g.Batch * g.OutChannels * g.OutPixels);
        var dx = new float[x.Length]; var dw = new float[w.Length]; var db = new float[g.OutChannels];
        Conv2dKernel.BackwardInput(g, w, dy, dx, false);
        Conv2dKernel.BackwardWeight(g, x, dy, dw, false);
        Conv2dKernel.BackwardBias(g, dy, db, false);
        var dx2 = Random(8, dx.Length); var dw2 = Random(9, dw.Length); var db2 = Random(10, db.Length);
        var (dxStart, dwStart, dbStart) = ((float[])dx2.Clone(), (float[])dw2.Clone(), (float[])db2.Clone());
        Conv2dKernel.BackwardInput(g, w, dy, dx2, true);
        Conv2dKernel.BackwardWeight(g, x, dy, dw2, true);
        Conv2dKernel.BackwardBias(g, dy, db2, true);
        AssertClose(dx.Select((v, i) => v + dxStart[i]).ToArray(), dx2, "dx");
        AssertClose(dw.Select((v, i) => v + dwStart[i]).ToArray(), dw2, "dw");
        AssertClose(db.Select((v, i) => v + dbStart[i]).ToArray(), db2, "db");
    }

    [Fact]
    public void ResultsAreBitIdenticalForAnyThreadCount()
    {
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (int index in new[] { 14, 13, 16, 17, 22, 23, 24 })
            {
                var g = Cases[index].Geometry;
                var x = Random(11, g.Batch * g.InChannels * g.InPixels);
                var w = Random(12, g.OutChannels * g.ColumnRows);
                var b = Random(13, g.OutChannels);
                var dy = Random(14, g.Batch * g.OutChannels * g.OutPixels);
                var runs = new List<float[]>();
                foreach (int threads in new[] { 2, 1, 3, 2 })
                {
                    Cpu.ThreadsOnThisThread = threads;
                    var y = new float[dy.Length]; var dx = new float[x.Length]; var dw = new float[w.Length];
                    Conv2dKernel.Forward(g, x, w, b, y);
                    Conv2dKernel.BackwardInput(g, w, dy, dx, false);
                    Conv2dKernel.BackwardWeight(g, x, dy, dw, false);
                    runs.Add([.. y, .. dx, .. dw]);
                }
                foreach (var r in runs) Assert.Equal(runs[0], r);
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [InlineData("lenet conv2", false, true)]
    [InlineData("one image over threads, pixel tiles", true, true)]
    [InlineData("one image over threads, channel tiles", true, false)]
    [InlineData("channel tiles, two groups", true, true)]
    [InlineData("avx2 channel tiles, runs across rows", true, true)]
    [InlineData("avx2 channel tiles, one input channel", false, true)]
    [InlineData("1x1 stride 2", true, true)]
    [InlineData("1x1 pointwise, many images", true, true)]
    [InlineData("large image, weight-resident strips", true, true)]
    public void FusedResidualAndReluGiveTheBitsOfTheSeparateSteps(string name, bool residual, bool relu)
    {
        var g = Cases.Single(c => c.Name == name).Geometry;
        var x = Random(15, g.Batch * g.InChannels * g.InPixels);
        var w = Random(16, g.OutChannels * g.ColumnRows);
        var b = Random(17, g.OutChannels);
        var r = residual ? Random(18, g.Batch * g.OutChannels * g.OutPixels) : [];
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            var expected = new float[g.Batch * g.OutChannels * g.OutPixels];
            Conv2dKernel.Forward(g, x, w, b, expected);
            if (residual) System.Numerics.Tensors.TensorPrimitives.Add(expected, r, expected);
            if (relu) System.Numerics.Tensors.TensorPrimitives.Max(expected, 0f, expected);
            var fused = new float[expected.Length];
            Array.Fill(fused, float.NaN);
            Conv2dKernel.Forward(g, x, w, b, fused, r, relu);
            Assert.Equal(expected, fused);
        }
    }

    // The AVX2 channel tiles sum the same products in the same order from the same start as the pixel tiles.
    [Theory]
    [InlineData("avx2 channel tiles, runs across rows")]
    [InlineData("avx2 channel tiles, one input channel")]
    [InlineData("channel tiles, stride 2")]
    [InlineData("deep K, 7x7, several row panels")]
    public void Avx2ChannelTilesGiveTheBitsOfThePixelTiles(string name)
    {
        if (!Cpu.SupportedPaths.Contains(KernelPath.Avx2)) return;
        var g = Cases.Single(c => c.Name == name).Geometry;
        var x = Random(19, g.Batch * g.InChannels * g.InPixels);
        var w = Random(20, g.OutChannels * g.ColumnRows);
        var b = Random(21, g.OutChannels);
        using var _ = Cpu.Force(KernelPath.Avx2);
        bool saved = Conv2dKernel.Avx2ChannelTiles;
        try
        {
            var channels = new float[g.Batch * g.OutChannels * g.OutPixels];
            Conv2dKernel.Forward(g, x, w, b, channels);
            Conv2dKernel.Avx2ChannelTiles = false;
            var pixels = new float[channels.Length];
            Conv2dKernel.Forward(g, x, w, b, pixels);
            Assert.Equal(pixels, channels);
        }
        finally { Conv2dKernel.Avx2ChannelTiles = saved; }
    }

    [Fact]
    public void GeometryFollowsOnnxOutputSizeAndRejectsBadShapes()
    {
        // out = floor((in + pads − dilation·(k − 1) − 1) / stride) + 1
        var g = new Conv2dGeometry(1, 4, 10, 7, 6, 3, 2, O(3, 2, 1, 0, 2, 1, 2, 3, g: 2));
        Assert.Equal((10 + 3 - 5) / 3 + 1, g.OutHeight);
        Assert.Equal((7 + 1 - 4) / 2 + 1, g.OutWidth);
        Assert.Equal([6, 2, 3, 2], g.WeightShape);
        Assert.Throws<CondenseException>(() => Conv2dGeometry.Of([1, 3, 8, 8], [4, 2, 3, 3], Conv2dOptions.Default));
        Assert.Throws<CondenseException>(() => Conv2dGeometry.Of([1, 4, 8, 8], [3, 2, 3, 3], Conv2dOptions.Square(groups: 2)));
        Assert.Throws<CondenseException>(() => Conv2dGeometry.Of([1, 1, 2, 2], [1, 1, 3, 3], Conv2dOptions.Default));
        Assert.Throws<CondenseException>(() => Conv2dGeometry.Of([1, 1, 8], [1, 1, 3], Conv2dOptions.Default));
        Assert.Throws<CondenseException>(() => Conv2dGeometry.Of([1, 1, 8, 8], [1, 1, 3, 3], Conv2dOptions.Square(stride: 0)));
        Assert.Throws<CondenseException>(() => Conv2dGeometry.Of([1, 1, 8, 8], [1, 1, 3, 3], Conv2dOptions.Square(padding: -1)));
    }
}
