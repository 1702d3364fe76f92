// The fp32 GEMM with B packed beforehand (PackedGemmB, Gemm.MultiplyPacked) against GemmReference and against
// Gemm.Multiply on the unpacked B (same bits: packing is a copy), on every kernel path, ragged shapes around the
// tile and K-block sizes, both layouts of B, alpha/beta, both thread splits; and the inference cache
// (PackedWeightCache) behind Tensor.Linear: correct from the first call, repacked after a recorded change.
using Condense.Autograd;
using Condense.Kernels;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class PackedGemmTests
{
    public static TheoryData<KernelPath, bool, int, int, int> Cases()
    {
        var data = new TheoryData<KernelPath, bool, int, int, int>();
        // (2, 7, 5): tiny; (13, 33, 257): one past MR, NR and KC; (256, 300, 784) and (256, 100, 300): LeNet-300-100
        // at batch 256 (threaded, rows split); (8, 520, 300): few row tiles, so columns are split.
        foreach (var path in Cpu.SupportedPaths)
            foreach (bool transB in new[] { false, true })
                foreach (var (m, n, k) in new[] { (2, 7, 5), (13, 33, 257), (256, 300, 784), (256, 100, 300), (8, 520, 300) })
                    data.Add(path, transB, m, n, k);
        return data;
    }

    private static float[] Random(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = rng.NextNormal();
        return x;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PackedProductEqualsUnpackedAndReference(KernelPath path, bool transB, int m, int n, int k)
    {
        using var _ = Cpu.Force(path);
        int saved = Cpu.Threads;
        try
        {
            int ldc = n + 3;
            float[] a = Random(m * k, 1), b = Random(n * k, 2), c0 = Random(m * ldc, 3);
            int ldb = transB ? k : n;
            var packed = new PackedGemmB(path, transB, k, n, b, ldb);
            foreach (var (alpha, beta) in new[] { (1f, 0f), (-0.5f, 1f) })
            {
                var expected = (float[])c0.Clone();
                Gemm.Multiply(false, transB, m, n, k, alpha, a, k, b, ldb, beta, expected, ldc);
                var reference = (float[])c0.Clone();
                GemmReference.Multiply(false, transB, m, n, k, alpha, a, k, b, ldb, beta, reference, ldc);
                foreach (int threads in new[] { 1, 2 })
                {
                    Cpu.Threads = threads;
                    var c = (float[])c0.Clone();
                    Gemm.MultiplyPacked(false, m, alpha, a, k, packed, beta, c, ldc);
                    Assert.Equal(expected, c);   // padding columns included: never written
                    for (int i = 0; i < c.Length; i++)
                        Assert.True(Math.Abs(c[i] - reference[i]) <= 1e-3f * (1f + Math.Abs(reference[i])), $"C[{i}] = {c[i]}, reference {reference[i]}");
                }
            }
        }
        finally { Cpu.Threads = saved; }
    }

    [Fact]
    public void PackedProductRejectsAPackForAnotherPathAndShortSpans()
    {
        var other = Cpu.SupportedPaths.FirstOrDefault(p => p != Cpu.Active, Cpu.Active);
        var packed = new PackedGemmB(other, true, 4, 3, new float[12], 4);
        if (other != Cpu.Active)
            Assert.Throws<ArgumentException>(() => Gemm.MultiplyPacked(false, 2, 1f, new float[8], 4, packed, 0f, new float[6], 3));
        using var _ = Cpu.Force(other);
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyPacked(false, 2, 1f, new float[7], 4, packed, 0f, new float[6], 3));
        Assert.Throws<ArgumentException>(() => new PackedGemmB(other, true, 4, 3, new float[11], 4));
    }

    private static float[] LinearReference(Tensor x, Tensor w, Tensor b)
    {
        int m = x.Shape[0], n = w.Shape[0], k = w.Shape[1];
        var y = new float[m * n];
        GemmReference.Multiply(false, true, m, n, k, 1f, x.Data, k, w.Data, k, 0f, y, n);
        for (int r = 0; r < m; r++) for (int o = 0; o < n; o++) y[r * n + o] += b.Data[o];
        return y;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-4f);
    }

    [Fact]
    public void InferenceLinearPacksARepeatedWeightAndRepacksAfterAChange()
    {
        var rng = new Rng(5);
        var w = Tensor.Uniform(rng, -1f, 1f, 45, 300);
        var b = Tensor.Uniform(rng, -1f, 1f, 45);
        var x = Tensor.Uniform(rng, -1f, 1f, 20, 300);
        Tensor dense = Tensor.Linear(x, w, b);   // grad mode: the plain product
        using (GradMode.NoGrad())
        {
            for (int call = 0; call < 3; call++)   // first sighting, packing, cached
            {
                var y = Tensor.Linear(x, w, b);
                Assert.Equal(dense.Data, y.Data);
            }
            Assert.NotNull(PackedWeightCache.For(w, transB: true));
            AssertClose(LinearReference(x, w, b), Tensor.Linear(x, w, b).Data);

            // A recorded change to the weight must not be served from the stale pack.
            for (int i = 0; i < w.Size; i++) w.Data[i] = -w.Data[i] * 0.5f;
            w.MarkModified();
            for (int call = 0; call < 3; call++) AssertClose(LinearReference(x, w, b), Tensor.Linear(x, w, b).Data);

            // Another kernel path has another panel layout: the pack follows the active path.
            foreach (var path in Cpu.SupportedPaths)
                using (Cpu.Force(path))
                    for (int call = 0; call < 2; call++) AssertClose(LinearReference(x, w, b), Tensor.Linear(x, w, b).Data);
        }
    }

    [Fact]
    public void AWeightSeenOnceIsNotPacked()
    {
        var rng = new Rng(6);
        var w = Tensor.Uniform(rng, -1f, 1f, 10, 30);
        var x = Tensor.Uniform(rng, -1f, 1f, 4, 30);
        using (GradMode.NoGrad()) Tensor.Linear(x, w, null);
        var fresh = Tensor.Uniform(rng, -1f, 1f, 10, 30);
        // The first query of a tensor only records it; the one Linear call above was w's first sighting.
        Assert.Null(PackedWeightCache.For(fresh, transB: true));
        Assert.NotNull(PackedWeightCache.For(w, transB: true));
    }
}
