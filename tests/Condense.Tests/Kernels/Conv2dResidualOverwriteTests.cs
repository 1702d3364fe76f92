// Conv2dKernel.Forward given the residual's own array as its output (the inference path's Conv + Add fusion writes over a
// residual nothing reads afterwards, GraphModule.Inference.cs): wherever Conv2dKernel.OutputMayOverwriteResidual allows
// it, the result has the bits of writing a separate output — on every kernel path and every kernel family (direct pixel
// tiles, image- and weight-resident; channel tiles; strided; Winograd F(2×2) and F(4×4); depthwise; grouped strided 1×1;
// AVX2's 1×1 strips). The 1×1 GEMM, which keeps partial sums in its output between K blocks, is refused, and the test
// shows why: over a K deeper than one block, writing over its residual gives other values. Likewise a stride-1 depthwise
// layer of one output channel per input channel given its input's own array as its output (OutputMayOverwriteInput), on
// the planar and the channel-lanes forms, threaded, with and without a residual.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dResidualOverwriteTests
{
    public static TheoryData<string, int, int, int, int, int, int, int, int> Layers() => new()
    {
        // name, N, C, H=W, M, k, stride, groups, Winograd mode (0: off)
        { "3×3 direct, image-resident", 2, 16, 10, 20, 3, 1, 1, 0 },
        { "3×3 direct, weight-resident", 1, 24, 96, 12, 3, 1, 1, 0 },
        { "3×3 channel tiles", 2, 32, 9, 64, 3, 1, 1, 0 },
        { "3×3 stride 2", 3, 16, 15, 32, 3, 2, 1, 0 },
        { "1-channel stem", 2, 1, 28, 16, 3, 1, 1, 0 },
        { "Winograd F(2×2)", 2, 16, 10, 20, 3, 1, 1, 2 },
        { "Winograd F(4×4)", 2, 16, 14, 20, 3, 1, 1, 4 },
        { "depthwise 3×3", 2, 24, 9, 24, 3, 1, 24, 0 },
        { "depthwise 3×3 stride 2", 2, 16, 11, 16, 3, 2, 16, 0 },
        { "grouped 1×1 stride 2", 2, 8, 10, 8, 1, 2, 2, 0 },
        { "1×1 stride 1", 2, 24, 9, 40, 1, 1, 1, 0 },
    };

    private static float[] Random(ulong seed, long count)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    private static Conv2dGeometry Geometry(int n, int c, int hw, int m, int k, int stride, int groups) =>
        new(n, c, hw, hw, m, k, k, new ConvParameters(stride, stride, k / 2, k / 2, k / 2, k / 2, 1, 1, groups));

    // (output written separately, output written over the residual's copy)
    private static (float[] Separate, float[] Overwritten) Both(Conv2dGeometry g)
    {
        var x = Random(1, (long)g.Batch * g.InChannels * g.InPixels);
        var weight = Random(2, (long)g.OutChannels * g.ColumnRows);
        var bias = Random(3, g.OutChannels);
        var residual = Random(4, (long)g.Batch * g.OutChannels * g.OutPixels);
        var separate = new float[residual.Length];
        Conv2dKernel.Forward(g, x, weight, bias, separate, residual, relu: true, new Conv2dPackedWeights(), max: 1.5f);
        var overwritten = (float[])residual.Clone();
        Conv2dKernel.Forward(g, x, weight, bias, overwritten, overwritten, relu: true, new Conv2dPackedWeights(), max: 1.5f);
        return (separate, overwritten);
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void WritingOverTheResidualGivesTheBitsOfASeparateOutput(string layer, int n, int c, int hw, int m, int k, int stride, int groups,
        int winograd)
    {
        var g = Geometry(n, c, hw, m, k, stride, groups);
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            using var __ = Conv2dWinograd.Force(winograd switch { 2 => WinogradMode.F2, 4 => WinogradMode.F4, _ => WinogradMode.Off });
            if (!Conv2dKernel.OutputMayOverwriteResidual(g))
            {
                Assert.True(Conv2dGemm.Applies(g) && path != KernelPath.Avx2, $"{layer} on {path}: only the 1×1 GEMM is refused");
                continue;
            }
            var (separate, overwritten) = Both(g);
            Assert.True(separate.AsSpan().SequenceEqual(overwritten), $"{layer} on {path}: the output written over the residual differs");
        }
    }

    [Fact]
    public void TheOneByOneGemmIsRefusedBecauseItsPartialSumsWouldOverwriteTheResidual()
    {
        var g = Geometry(1, 700, 5, 9, 1, 1, 1);   // K = 700: several K blocks of the GEMM
        foreach (var path in Cpu.SupportedPaths.Where(p => p != KernelPath.Avx2))
        {
            using var _ = Cpu.Force(path);
            Assert.False(Conv2dKernel.OutputMayOverwriteResidual(g), $"{path}");
            var (separate, overwritten) = Both(g);
            Assert.False(separate.AsSpan().SequenceEqual(overwritten), $"{path}: the GEMM gave the same bits; the refusal may be lifted");
        }
    }

    [Theory]
    [InlineData(2, 16, 12, 3, true)]     // channels in lanes (two blocks of eight), two images over the threads
    [InlineData(3, 5, 9, 3, false)]      // planar (five channels), no residual
    [InlineData(2, 12, 10, 3, true)]     // eight channels in lanes, the last four planar in the same unit
    [InlineData(1, 24, 40, 5, true)]     // a wide plane, 5×5 taps
    public void ADepthwiseLayerWritingOverItsInputGivesTheBitsOfASeparateOutput(int n, int c, int hw, int k, bool withResidual)
    {
        var g = Geometry(n, c, hw, c, k, 1, c);
        var x = Random(1, (long)n * c * hw * hw);
        var weight = Random(2, (long)c * k * k);
        var bias = Random(3, c);
        var residual = withResidual ? Random(4, x.Length) : [];
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            if (!Conv2dKernel.OutputMayOverwriteInput(g)) { Assert.Equal(KernelPath.Scalar, path); continue; }
            var separate = new float[x.Length];
            Conv2dKernel.Forward(g, x, weight, bias, separate, residual, relu: true, new Conv2dPackedWeights(), max: 1.5f);
            var overwritten = (float[])x.Clone();
            Conv2dKernel.Forward(g, overwritten, weight, bias, overwritten, residual, relu: true, new Conv2dPackedWeights(), max: 1.5f);
            Assert.True(separate.AsSpan().SequenceEqual(overwritten), $"{path}: the output written over the input differs");
        }
    }

    [Fact]
    public void OnlyStrideOneDepthwiseLayersOfOneChannelPerGroupMayWriteOverTheirInput()
    {
        Assert.True(Conv2dKernel.OutputMayOverwriteInput(Geometry(1, 8, 10, 8, 3, 1, 8)) || Cpu.Active == KernelPath.Scalar);
        Assert.False(Conv2dKernel.OutputMayOverwriteInput(Geometry(1, 8, 10, 8, 3, 2, 8)));    // stride 2: another shape
        Assert.False(Conv2dKernel.OutputMayOverwriteInput(Geometry(1, 8, 10, 16, 3, 1, 8)));   // two outputs per input channel
        Assert.False(Conv2dKernel.OutputMayOverwriteInput(Geometry(1, 8, 10, 8, 3, 1, 1)));    // a full convolution reads every channel
    }
}
