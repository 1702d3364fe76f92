// Conv2dPointwiseStrided (unpadded 1×1 convolution with a stride above 1, run on the subsampled image) against
// the naive Conv2dReference on every kernel path, over odd image sizes, unequal strides (one of them 1),
// groups, bias and a batch large enough to run on several threads; bit-identical results for any thread
// count; and Tensor.Conv2d (which takes this path) against the reference, gradients included.
using Condense.Autograd;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dPointwiseStridedTests
{
    private static Conv2dGeometry G(int n, int c, int h, int w, int m, int sh, int sw, int groups = 1) =>
        new(n, c, h, w, m, 1, 1, new Conv2dOptions(sh, sw, Groups: groups));

    public static TheoryData<int, int, int, int, int, int, int, int, bool> Shapes() => new()
    {
        { 2, 4, 7, 7, 5, 2, 2, 1, false },      // odd size: the last row and column are read
        { 1, 3, 9, 10, 4, 3, 2, 1, true },      // unequal strides, bias
        { 2, 3, 6, 5, 2, 1, 2, 1, true },       // stride 1 along the height
        { 2, 3, 5, 6, 2, 2, 1, 1, false },      // stride 1 along the width (whole-row copies)
        { 3, 4, 8, 8, 6, 2, 2, 2, true },       // groups
        { 64, 16, 28, 28, 32, 2, 2, 1, true },  // resnet-mini's first shortcut, large enough for several threads
    };

    private static float[] Random(ulong seed, long count)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    // Both sum the same C/g products in a different order: |Δ| ≤ 1e-5 · max(1, max |expected|).
    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheNaiveLoopsOnEveryPath(int n, int c, int h, int w, int m, int sh, int sw, int groups, bool bias)
    {
        var g = G(n, c, h, w, m, sh, sw, groups);
        Assert.True(Conv2dPointwiseStrided.Applies(g));
        var x = Random(1, g.Batch * g.InChannels * g.InPixels);
        var weight = Random(2, g.OutChannels * g.ColumnRows);
        var b = bias ? Random(3, g.OutChannels) : [];
        var expected = new float[g.Batch * g.OutChannels * g.OutPixels];
        Conv2dReference.Forward(g, x, weight, b, expected);
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            var y = new float[expected.Length];
            Array.Fill(y, float.NaN); // every output is written
            Conv2dPointwiseStrided.Forward(g, x, weight, b, y, default, relu: false);
            AssertClose(expected, y, $"{path} y");
        }
    }

    [Fact]
    public void ResultsAreBitIdenticalForAnyThreadCount()
    {
        var g = G(64, 16, 28, 28, 32, 2, 2);
        var x = Random(4, g.Batch * g.InChannels * g.InPixels);
        var weight = Random(5, g.OutChannels * g.ColumnRows);
        var b = Random(6, g.OutChannels);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            var runs = new List<float[]>();
            foreach (int threads in new[] { 2, 1, 3 })
            {
                Cpu.ThreadsOnThisThread = threads;
                var y = new float[g.Batch * g.OutChannels * g.OutPixels];
                Conv2dPointwiseStrided.Forward(g, x, weight, b, y, default, relu: false);
                runs.Add(y);
            }
            foreach (var r in runs) Assert.Equal(runs[0], r);
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Fact]
    public void AppliesOnlyToUnpaddedStridedOneByOneKernels()
    {
        Assert.False(Conv2dPointwiseStrided.Applies(G(1, 2, 5, 5, 3, 1, 1)));
        Assert.False(Conv2dPointwiseStrided.Applies(new Conv2dGeometry(1, 2, 5, 5, 3, 1, 1, new Conv2dOptions(2, 2, PadTop: 1))));
        Assert.False(Conv2dPointwiseStrided.Applies(new Conv2dGeometry(1, 2, 5, 5, 3, 3, 3, new Conv2dOptions(2, 2))));
    }

    [Fact]
    public void TensorConv2dTakesThisPathAndKeepsItsGradients()
    {
        var g = G(2, 3, 7, 6, 4, 2, 2);
        var xData = Random(7, g.Batch * g.InChannels * g.InPixels);
        var wData = Random(8, g.OutChannels * g.ColumnRows);
        var bData = Random(9, g.OutChannels);
        var dyData = Random(10, g.Batch * g.OutChannels * g.OutPixels);
        var x = new Tensor((float[])xData.Clone(), g.InputShape) { RequiresGrad = true };
        var w = new Tensor((float[])wData.Clone(), g.WeightShape) { RequiresGrad = true };
        var b = new Tensor((float[])bData.Clone(), g.OutChannels) { RequiresGrad = true };
        var y = Tensor.Conv2d(x, w, b, g.Options);
        y.Backward(new Tensor(dyData, g.OutputShape));

        var yRef = new float[dyData.Length];
        var dxRef = new float[xData.Length];
        var dwRef = new float[wData.Length];
        Conv2dReference.Forward(g, xData, wData, bData, yRef);
        Conv2dReference.BackwardInput(g, wData, dyData, dxRef);
        Conv2dReference.BackwardWeight(g, xData, dyData, dwRef);
        AssertClose(yRef, y.Data, "y");
        AssertClose(dxRef, x.Grad!.Data, "dx");
        AssertClose(dwRef, w.Grad!.Data, "dw");
    }
}
