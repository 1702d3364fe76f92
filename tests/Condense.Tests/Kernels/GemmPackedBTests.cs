// A B packed once (Kernels/FloatGemm/GemmPackedB) gives the bits of the per-call packing on every kernel path — ragged
// shapes around NR, KC (384) and NC (1024), both transposes, alpha/beta, wide leading dimensions, one row, 1 to 3 threads —
// and the unpacked path is checked against GemmReference in GemmTests; Tensors/GemmWeightPacking keeps the packing of a
// parameter read with gradients off until it is modified, and Tensor.Gemm with it gives the unpacked product.
using Condense.Autograd;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class GemmPackedBTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 7, 33), (2, 33, 5), (7, 33, 65), (13, 47, 385), (33, 129, 7), (40, 17, 770), (65, 1100, 300), (129, 65, 784),
        (128, 1536, 384),
    ];

    public static TheoryData<KernelPath, bool, bool> Cases()
    {
        var data = new TheoryData<KernelPath, bool, bool>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    data.Add(path, ta, tb);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GivesTheBitsOfPerCallPacking(KernelPath path, bool transA, bool transB)
    {
        using var _ = Cpu.Force(path);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (var (m, n, k) in Shapes)
                foreach (var (alpha, beta, pad) in new[] { (1f, 0f, 0), (-0.5f, 1f, 3), (2f, -0.75f, 1) })
                {
                    var rng = new Rng((ulong)(m * 7919 + n * 31 + k));
                    int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
                    float[] Fill(int count) => [.. Enumerable.Range(0, count).Select(_ => rng.NextNormal())];
                    var (a, b, c0) = (Fill((transA ? k : m) * lda), Fill((transB ? n : k) * ldb), Fill(m * ldc));
                    var expected = (float[])c0.Clone();
                    if (m == 1) // one row goes to GEMV unpacked, a different summation: compare with the driver's bits instead
                        expected = OneRowThroughDriver(transA, transB, n, k, alpha, a, lda, b, ldb, beta, c0, ldc);
                    else Gemm.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
                    var packed = GemmPackedB.Pack(transB, k, n, b, ldb);
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        Cpu.ThreadsOnThisThread = threads;
                        var c = (float[])c0.Clone();
                        Gemm.Multiply(transA, m, alpha, a, lda, packed, beta, c, ldc);
                        Assert.True(expected.AsSpan().SequenceEqual(c), $"{m}×{n}×{k} α {alpha} β {beta} pad {pad} on {threads} threads");
                    }
                }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    // The one-row product as the blocked driver computes it: the same row twice (two rows never take GEMV), the first kept.
    private static float[] OneRowThroughDriver(bool transA, bool transB, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb,
        float beta, float[] c0, int ldc)
    {
        var twoRows = new float[2 * k];
        for (int p = 0; p < k; p++) twoRows[p] = twoRows[k + p] = transA ? a[p * lda] : a[p];
        var c = new float[2 * ldc];
        c0.AsSpan(0, ldc).CopyTo(c);
        c0.AsSpan(0, ldc).CopyTo(c.AsSpan(ldc));
        Gemm.Multiply(false, transB, 2, n, k, alpha, twoRows, k, b, ldb, beta, c, ldc);
        return c[..ldc];
    }

    [Fact]
    public void RefusesAnotherPathsPanels()
    {
        var b = new float[6];
        Assert.Throws<ArgumentException>(() => GemmPackedB.Pack(false, 2, 3, new float[5], 3));
        GemmPackedB packed;
        using (Cpu.Force(KernelPath.Scalar)) packed = GemmPackedB.Pack(false, 2, 3, b, 3);
        if (Cpu.Best == KernelPath.Scalar) return;
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, 2, 1f, new float[4], 2, packed, 0f, new float[6], 3));
    }

    [Fact]
    public void AParameterKeepsItsPackingUntilModifiedAndActivationsAreNotPacked()
    {
        var rng = new Rng(5);
        var w = new Tensor([.. Enumerable.Range(0, 40 * 24).Select(_ => rng.NextNormal())], [40, 24]) { RequiresGrad = true };
        var x = new Tensor([.. Enumerable.Range(0, 9 * 40).Select(_ => rng.NextNormal())], [9, 40]);
        var bias = new Tensor([.. Enumerable.Range(0, 24).Select(_ => rng.NextNormal())], [24]);
        Tensor unpacked;
        using (GradMode.NoGrad())
        {
            var first = GemmWeightPacking.For(w, transB: false);
            Assert.NotNull(first);
            Assert.Same(first, GemmWeightPacking.For(w, transB: false));
            Assert.NotSame(first, GemmWeightPacking.For(w, transB: true));
            w.MarkModified();
            Assert.NotSame(GemmWeightPacking.For(w, transB: true), GemmWeightPacking.For(w, transB: false));
            Assert.Null(GemmWeightPacking.For(x, transB: false));   // no gradient: an activation
            var packedProduct = Tensor.Gemm(x, w, bias);
            var plain = new Tensor(w.Data, w.Shape);                 // the same values, not a parameter: packed per call
            unpacked = Tensor.Gemm(x, plain, bias);
            Assert.Equal(unpacked.Data, packedProduct.Data);
        }
        Assert.Null(GemmWeightPacking.For(w, transB: false));
        Assert.Equal(unpacked.Data, Tensor.Gemm(x, w, bias).Data);
    }
}
