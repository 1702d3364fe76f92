// The AVX2 strip form of a stride-1 1×1 convolution (Conv2dGemm.Strips.cs, PointwiseStripKernel) against the naive
// Conv2dReference followed by the separate ops (+ residual, max, min), and against the GEMM form it replaces: the same bits
// wherever K fits one GEMM K block, on shapes past every edge — leftover channel rows (1 to 5 of a 6-row tile), a ragged
// last strip (7×7 = 49 pixels, 33 = 2·16 + 1), exactly two strips (the smallest image that runs as strips), batches, a K
// deeper than a GEMM block, and few strips for many threads (the channels cut into blocks). Bits equal for 1, 2, 3 threads,
// and with the weights packed once into panels (prepacked, or made by a source) or per call.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dPointwiseStripsTests
{
    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // batch, input channels, height, width, output channels
        { 1, 16, 12, 12, 97 },   // 144 pixels = 9 strips; 97 = 16 tiles of 6 + 1 row
        { 1, 32, 7, 7, 160 },    // 49 pixels: a ragged strip of 1; 160 = 26·6 + 4
        { 2, 24, 3, 11, 38 },    // 33 pixels: a ragged strip of 1 per image; 38 = 6·6 + 2
        { 1, 9, 4, 8, 23 },      // 32 pixels: two strips only, 23 = 3·6 + 5
        { 3, 5, 6, 9, 27 },      // 54 pixels, 27 = 4·6 + 3, three images
        { 1, 500, 8, 5, 12 },    // K = 500: deeper than one GEMM K block
    };

    private static float[] Random(ulong seed, long count)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void StripsMatchTheReferenceAndTheGemm(int n, int c, int h, int w, int m)
    {
        var g = new Conv2dGeometry(n, c, h, w, m, 1, 1, new ConvParameters(1, 1, 0, 0, 0, 0, 1, 1, 1));
        var x = Random(1, (long)n * c * h * w);
        var weight = Random(2, (long)m * c);
        var bias = Random(3, m);
        var residual = Random(4, (long)n * m * h * w);
        const float max = 0.8f;
        var conv = new float[residual.Length];
        Conv2dReference.Forward(g, x, weight, bias, conv);
        var reference = conv.Select((v, i) => MathF.Min(MathF.Max(v + residual[i], 0f), max)).ToArray();
        float scale = Math.Max(1f, conv.Max(MathF.Abs));
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            float[]? first = null;
            int? threads = Cpu.ThreadsOnThisThread;
            try
            {
                foreach (int t in new[] { 1, 2, 3 })
                {
                    Cpu.ThreadsOnThisThread = t;
                    var y = new float[residual.Length];
                    Conv2dKernel.Forward(g, x, weight, bias, y, residual, relu: true, null, max);
                    for (int i = 0; i < y.Length; i++)
                        Assert.True(MathF.Abs(y[i] - reference[i]) <= 1e-4f * scale, $"{path}, {t} threads, [{i}]: {reference[i]} vs {y[i]}");
                    if (first is null) first = y;
                    else Assert.Equal(first, y);
                }
                // Weights packed once (into the strips' panels on AVX2), or made by a source on first use: the same bits.
                var packed = new Conv2dPackedWeights();
                var sourced = new Conv2dPackedWeights(span => weight.CopyTo(span));
                for (int call = 0; call < 2; call++)
                {
                    var again = new float[residual.Length];
                    Conv2dKernel.Forward(g, x, weight, bias, again, residual, relu: true, packed, max);
                    Assert.Equal(first, again);
                    Conv2dKernel.Forward(g, x, [], bias, again, residual, relu: true, sourced, max);
                    Assert.Equal(first, again);
                }
                if (path != KernelPath.Avx2 || c > 432) continue;
                Conv2dGemm.Strips = false;
                var gemm = new float[residual.Length];
                Conv2dKernel.Forward(g, x, weight, bias, gemm, residual, relu: true, null, max);
                Assert.Equal(gemm, first);
            }
            finally
            {
                Cpu.ThreadsOnThisThread = threads;
                Conv2dGemm.Strips = true;
            }
        }
    }

    [Fact]
    public void WithoutBiasResidualOrClampTheStripsAreThePlainProduct()
    {
        var g = new Conv2dGeometry(1, 20, 9, 9, 13, 1, 1, new ConvParameters(1, 1, 0, 0, 0, 0, 1, 1, 1));
        var x = Random(5, 20 * 81);
        var weight = Random(6, 13 * 20);
        var expected = new float[13 * 81];
        Conv2dReference.Forward(g, x, weight, [], expected);
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            var y = new float[expected.Length];
            Conv2dKernel.Forward(g, x, weight, [], y);
            for (int i = 0; i < y.Length; i++) Assert.True(MathF.Abs(y[i] - expected[i]) <= 1e-4f * 5, $"{path} [{i}]");
            Assert.Contains(y, v => v < 0f); // no clamp was applied
        }
    }
}
