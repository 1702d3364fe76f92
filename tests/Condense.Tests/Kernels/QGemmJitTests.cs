// The emitted zmm vpdpbusd kernels (Int8Dot.JitZmmQuads) against QGemmReference, exactly, on shapes around their
// 12 × 32 tile: every channel count from 1 to 65 (full tiles, the two-panel and one-panel ragged kernels), rows that
// leave 1 to 11 one-row tiles, k = 0 (no kernel call: the offsets alone) and k not a multiple of 4. Only where the CPU
// has AVX-512 VNNI on Linux x86-64 (elsewhere the cases are not generated); QGemmTests covers the same path on its shapes.
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class QGemmJitTests
{
    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        if (!Cpu.Supports(Int8Dot.JitZmmQuads)) { data.Add(0, 0, 0); return data; } // a row xunit can run; the test returns
        for (int n = 1; n <= 65; n++) data.Add(12 + n % 12, n, 1 + n % 9 * 5);
        foreach (int k in new[] { 0, 3, 4, 5, 784 }) data.Add(25, 33, k);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesReferenceExactly(int m, int n, int k)
    {
        if (!Cpu.Supports(Int8Dot.JitZmmQuads)) return; // no emitted zmm kernel on this CPU
        var rng = new Rng((ulong)(m * 1000 + n * 10 + k));
        var x = new byte[m * k]; var w = new sbyte[n * k];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(256) - 128);
        var bias = Enumerable.Range(0, n).Select(_ => rng.NextInt(1 << 20) - (1 << 19)).ToArray();
        var expected = new int[m * n]; var acc = new int[m * n];
        QGemmReference.LinearForward(m, n, k, x, 77, w, bias, expected);
        using (Cpu.Force(KernelPath.Avx512))
        using (Cpu.Force(Int8Dot.JitZmmQuads))
            QGemm.LinearForward(m, x, 77, new PackedInt8Weights(w, n, k), bias, acc);
        Assert.Equal(expected, acc);
    }
}
