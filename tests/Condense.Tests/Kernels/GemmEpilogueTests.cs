// The GEMM's bias and activation epilogue (Kernels/FloatGemm/GemmEpilogue) gives, on every kernel path, the bits of the
// separate passes it replaces — C filled with the bias, the product with beta = 1, then ReLU (TensorPrimitives.Max) or
// GELU (GeluKernel) over C — on ragged shapes around the tiles, NR, KC (384) and NC (1024), both transposes, wide leading
// dimensions, one row (GEMV), K = 0, B packed once or per call, for 1 to 3 threads; and agrees with the plain reference
// (GemmReference, the bias, and the activations' double-precision formulas) within float rounding. ReLU keeps NaN and
// turns −0 into +0 as the Relu op does; GeluKernel's ragged tail has the lanes' bits.
using System.Numerics.Tensors;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class GemmEpilogueTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 37, 33), (2, 33, 5), (7, 17, 0), (13, 47, 385), (25, 129, 7), (40, 300, 784), (65, 1100, 30), (14, 100, 300),
    ];

    public static TheoryData<KernelPath, GemmActivation, bool> Cases()
    {
        var data = new TheoryData<KernelPath, GemmActivation, bool>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (var activation in Enum.GetValues<GemmActivation>())
                foreach (bool packed in new[] { false, true })
                    data.Add(path, activation, packed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GivesTheBitsOfTheSeparatePasses(KernelPath path, GemmActivation activation, bool packed)
    {
        using var _ = Cpu.Force(path);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var (m, n, k) in Shapes)
                foreach (var (transA, transB, pad) in new[] { (false, true, 0), (false, false, 3), (true, true, 1) })
                {
                    if (packed && transA && m == 1) continue; // one row takes GEMV either way
                    var rng = new Rng((ulong)(m * 7919 + n * 31 + k));
                    int lda = Math.Max(1, (transA ? m : k) + pad), ldb = Math.Max(1, (transB ? k : n) + pad), ldc = n + pad;
                    float[] Fill(int count) => [.. Enumerable.Range(0, count).Select(_ => 2f * rng.NextNormal())];
                    var (a, b, bias) = (Fill(Math.Max(1, (transA ? k : m) * lda)), Fill(Math.Max(1, (transB ? n : k) * ldb)), Fill(n));
                    var expected = Separate(path, transA, transB, m, n, k, a, lda, b, ldb, bias, ldc, activation);
                    var reference = Reference(transA, transB, m, n, k, a, lda, b, ldb, bias, ldc, activation);
                    var packedB = packed && m > 1 ? GemmPackedB.Pack(transB, k, n, b, ldb) : null;
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        Cpu.ThreadsOnThisThread = threads;
                        var c = Enumerable.Repeat(float.NaN, m * ldc).ToArray();   // beta = 0 never reads C
                        if (packedB is null) Gemm.Multiply(transA, transB, m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc, bias, activation);
                        else Gemm.Multiply(transA, m, 1f, a, lda, packedB, 0f, c, ldc, bias, activation);
                        string where = $"{m}×{n}×{k} tA {transA} tB {transB} pad {pad} on {threads} threads";
                        for (int i = 0; i < m; i++)
                            Assert.True(expected.AsSpan(i * ldc, n).SequenceEqual(c.AsSpan(i * ldc, n)), $"{where}: row {i}");
                        for (int i = 0; i < m * ldc; i++)
                            if (i % ldc < n) Assert.True(Math.Abs(c[i] - reference[i]) <= 1e-4 * (1 + Math.Abs(reference[i])) * Math.Sqrt(k + 1),
                                $"{where}: {c[i]} vs reference {reference[i]} at {i}");
                    }
                }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    // C filled with the bias, C += op(A)·op(B), then the activation as the Relu and Gelu ops run it on this path.
    private static float[] Separate(KernelPath path, bool transA, bool transB, int m, int n, int k, float[] a, int lda, float[] b, int ldb,
        float[] bias, int ldc, GemmActivation activation)
    {
        var c = new float[m * ldc];
        for (int i = 0; i < m; i++) bias.CopyTo(c, i * ldc);
        Gemm.Multiply(transA, transB, m, n, k, 1f, a, lda, b, ldb, 1f, c, ldc);
        for (int i = 0; i < m; i++)
        {
            var row = c.AsSpan(i * ldc, n);
            if (activation == GemmActivation.Relu) TensorPrimitives.Max(row, 0f, row);
            else if (activation == GemmActivation.Gelu) GeluKernel.Run(path, row, row);
        }
        return c;
    }

    private static float[] Reference(bool transA, bool transB, int m, int n, int k, float[] a, int lda, float[] b, int ldb,
        float[] bias, int ldc, GemmActivation activation)
    {
        var c = new float[m * ldc];
        GemmReference.Multiply(transA, transB, m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float v = c[i * ldc + j] + bias[j];
                c[i * ldc + j] = activation switch { GemmActivation.Relu => Math.Max(v, 0f), GemmActivation.Gelu => GeluKernel.Reference(v), _ => v };
            }
        return c;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ReluKeepsNaNAndClearsNegativeZero(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        // A 2×19 product with K = 1 and A = 0: C is the bias, a NaN and signed zeros among it.
        var bias = Enumerable.Range(0, 19).Select(j => j switch { 3 => float.NaN, 5 => -0f, 17 => -0f, _ => j - 9f }).ToArray();
        var c = new float[2 * 19];
        Gemm.Multiply(false, false, 2, 19, 1, 1f, new float[2], 1, new float[19], 19, 0f, c, 19, bias, GemmActivation.Relu);
        for (int j = 0; j < 19; j++)
        {
            float expected = MathF.Max(bias[j] + 0f, 0f);
            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(c[j]));
            Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(c[19 + j]));
        }
    }

    public static TheoryData<KernelPath> Paths() => [.. Cpu.SupportedPaths];

    [Theory]
    [MemberData(nameof(Paths))]
    public void GeluTailHasTheLanesBits(KernelPath path)
    {
        var rng = new Rng(11);
        var x = Enumerable.Range(0, 48).Select(_ => 3f * rng.NextNormal()).ToArray();
        var whole = new float[48];
        GeluKernel.Run(path, x, whole);
        foreach (int length in new[] { 1, 7, 9, 15, 17, 37 })
        {
            var y = new float[length];
            GeluKernel.Run(path, x.AsSpan(48 - length), y);
            Assert.True(whole.AsSpan(48 - length).SequenceEqual(y), $"length {length}");
        }
    }

    [Fact]
    public void RefusesABiasOfAnotherLength()
    {
        var c = new float[6];
        Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 2, 3, 1, 1f, new float[2], 1, new float[3], 3, 0f, c, 3, new float[2], GemmActivation.None));
    }
}
