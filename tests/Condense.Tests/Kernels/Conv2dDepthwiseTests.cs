// Conv2dDepthwise (groups = C) against the naive Conv2dReference on every kernel path: 3×3, 5×5 and 1×1 kernels, strides
// 1–3, dilation 2, asymmetric pads, widths that leave tails, channel counts that are not a multiple of eight (the last
// channels run planar), a channel multiplier of 2 (planar only), a 1×1 image at the very end of the input. Both forms
// (channels in lanes and planar) give the same bits, so do 1, 2 and 3 threads (one image or several), and the fused residual Add and Relu give the
// bits of the separate ops.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dDepthwiseTests
{
    public static TheoryData<int, int, int, int, int, int, int, int[], int> Shapes() => new()
    {
        { 2, 8, 7, 7, 1, 3, 1, [1, 1, 1, 1], 1 },        // one block of eight, 7 wide: no full transposed row
        { 1, 13, 9, 11, 1, 3, 2, [1, 1, 1, 1], 1 },      // 8 lanes + 5 planar channels, stride 2, odd sizes
        { 2, 16, 14, 14, 1, 3, 2, [0, 0, 1, 1], 1 },     // TensorFlow's SAME padding at stride 2
        { 1, 8, 10, 9, 1, 5, 1, [2, 2, 2, 2], 1 },       // 5×5
        { 1, 8, 12, 12, 1, 3, 1, [2, 2, 2, 2], 2 },      // dilation 2
        { 1, 6, 8, 8, 2, 3, 1, [1, 1, 1, 1], 1 },        // channel multiplier 2
        { 1, 8, 1, 1, 1, 1, 1, [0, 0, 0, 0], 1 },        // 1×1 image and kernel: the last plane ends the input
        { 3, 24, 5, 3, 1, 3, 3, [1, 1, 1, 1], 1 },       // stride 3, narrow
        { 2, 32, 28, 28, 1, 3, 1, [1, 1, 1, 1], 1 },     // large enough for several threads
        // One image over several threads: its blocks of eight channels split between them.
        { 1, 24, 30, 30, 1, 3, 1, [1, 1, 1, 1], 1 },
        { 1, 45, 61, 37, 1, 3, 2, [0, 0, 1, 1], 1 },     // stride 2, SAME padding, 5 lane blocks + 5 planar channels
        { 1, 16, 40, 40, 1, 5, 1, [2, 2, 2, 2], 1 },     // 5×5, two blocks
    };

    private static Conv2dGeometry G(int n, int c, int h, int w, int multiplier, int k, int stride, int[] pads, int dilation) =>
        new(n, c, h, w, c * multiplier, k, k, new ConvParameters(stride, stride, pads[0], pads[1], pads[2], pads[3], dilation, dilation, c));

    private static float[] Random(ulong seed, long count)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    private static float[] Run(Conv2dGeometry g, float[] x, float[] w, float[] b, float[]? residual = null, bool relu = false)
    {
        var y = new float[g.Batch * g.OutChannels * g.OutPixels];
        Array.Fill(y, float.NaN); // every output is written
        Conv2dKernel.Forward(g, x, w, b, y, residual, relu);
        return y;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheNaiveLoopsOnEveryPathInBothForms(int n, int c, int h, int w, int multiplier, int k, int stride, int[] pads, int dilation)
    {
        var g = G(n, c, h, w, multiplier, k, stride, pads, dilation);
        var x = Random(1, g.Batch * g.InChannels * g.InPixels);
        var weight = Random(2, g.OutChannels * g.ColumnRows);
        var bias = Random(3, g.OutChannels);
        var expected = new float[g.Batch * g.OutChannels * g.OutPixels];
        Conv2dReference.Forward(g, x, weight, bias, expected);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            Assert.Equal(path != KernelPath.Scalar, Conv2dDepthwise.Applies(g));
            var lanes = Run(g, x, weight, bias);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(MathF.Abs(expected[i] - lanes[i]) <= 1e-5f * scale, $"{path} y[{i}]: expected {expected[i]}, got {lanes[i]}");
            Conv2dDepthwise.ForceLanes = false;
            try { Assert.Equal(lanes, Run(g, x, weight, bias)); }
            finally { Conv2dDepthwise.ForceLanes = null; }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TheFusedResidualAndReluHaveTheBitsOfTheSeparateOps(int n, int c, int h, int w, int multiplier, int k, int stride, int[] pads,
        int dilation)
    {
        var g = G(n, c, h, w, multiplier, k, stride, pads, dilation);
        var x = Random(4, g.Batch * g.InChannels * g.InPixels);
        var weight = Random(5, g.OutChannels * g.ColumnRows);
        var bias = Random(6, g.OutChannels);
        var residual = Random(7, g.Batch * g.OutChannels * g.OutPixels);
        var conv = Run(g, x, weight, bias);
        var expected = conv.Select((v, i) => MathF.Max(v + residual[i], 0f)).ToArray();
        Assert.Equal(expected, Run(g, x, weight, bias, residual, relu: true));
        Assert.Equal(conv.Select(v => MathF.Max(v, 0f)).ToArray(), Run(g, x, weight, bias, relu: true));
        Assert.Equal(conv.Select((v, i) => v + residual[i]).ToArray(), Run(g, x, weight, bias, residual));
    }

    [Theory]
    [InlineData(2, 40, 28, 28, 1)]
    [InlineData(1, 45, 61, 37, 2)] // one image, its blocks over the threads
    public void ResultsAreBitIdenticalForAnyThreadCount(int n, int c, int h, int w, int stride)
    {
        var g = G(n, c, h, w, 1, 3, stride, [1, 1, 1, 1], 1);
        var x = Random(8, g.Batch * g.InChannels * g.InPixels);
        var weight = Random(9, g.OutChannels * g.ColumnRows);
        var bias = Random(10, g.OutChannels);
        Assert.True(g.Flops >= Conv2dDepthwise.ParallelFlops);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            var runs = new List<float[]>();
            foreach (int threads in new[] { 2, 1, 3 })
            {
                Cpu.ThreadsOnThisThread = threads;
                runs.Add(Run(g, x, weight, bias));
            }
            foreach (var r in runs) Assert.Equal(runs[0], r);
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }
}
