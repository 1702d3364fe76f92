// Conv2dKernel.Forward with a fused Clip(0, max) (ReLU6) after the residual Add: every kernel family gives the bits of the
// separate ops (conv, then + residual, then max(·, 0), then min(·, max)) — the 1×1 GEMM's epilogue (GemmEpilogue's
// convolution form, on a K deeper than one K block too), the depthwise kernel's, and the pass after the direct and
// Winograd kernels — on every kernel path.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dFusedClipTests
{
    public static TheoryData<string, int, int, int, int, int, int> Layers() => new()
    {
        { "1×1 GEMM", 2, 24, 9, 7, 40, 1 },
        { "1×1 GEMM, K over several blocks", 1, 700, 5, 5, 9, 1 },
        { "depthwise 3×3", 2, 24, 9, 7, 24, 3 },
        { "3×3 direct / Winograd", 2, 16, 10, 10, 20, 3 },
    };

    private static float[] Random(ulong seed, long count, float range)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = range * (rng.NextFloat() * 2f - 1f);
        return v;
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void AFusedClipHasTheBitsOfTheSeparateOps(string layer, int n, int c, int h, int w, int m, int k)
    {
        int groups = layer.StartsWith("depthwise", StringComparison.Ordinal) ? c : 1;
        var g = new Conv2dGeometry(n, c, h, w, m, k, k, new ConvParameters(1, 1, k / 2, k / 2, k / 2, k / 2, 1, 1, groups));
        var x = Random(1, g.Batch * g.InChannels * g.InPixels, 1);
        var weight = Random(2, g.OutChannels * g.ColumnRows, 0.5f);
        var bias = Random(3, g.OutChannels, 0.5f);
        var residual = Random(4, g.Batch * g.OutChannels * g.OutPixels, 1);
        const float max = 0.75f;
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            var conv = new float[residual.Length];
            Conv2dKernel.Forward(g, x, weight, bias, conv);
            var expected = conv.Select((v, i) => MathF.Min(MathF.Max(v + residual[i], 0f), max)).ToArray();
            Assert.Contains(expected, v => v == max);
            Assert.Contains(expected, v => v == 0f);
            var fused = new float[residual.Length];
            Conv2dKernel.Forward(g, x, weight, bias, fused, residual, relu: true, new Conv2dPackedWeights(), max);
            Assert.Equal(expected, fused);
            var noResidual = new float[residual.Length];
            Conv2dKernel.Forward(g, x, weight, bias, noResidual, default, relu: false, null, max);
            Assert.Equal(conv.Select(v => MathF.Min(v, max)).ToArray(), noResidual);
        }
    }
}
