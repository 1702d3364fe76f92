// The machine's fp32 peak, measured rather than assumed: every core runs a loop of independent
// fused multiply-adds held in registers (no memory traffic), and the flops are counted. This is
// the ceiling a GEMM can approach; it differs between CPUs with one or two FMA units per core.
using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Bench;

internal static class FmaPeak
{
    // Inputs and result live in fields so the JIT can neither fold the FMAs nor drop the loop.
    private static float s_a = 1.0000001f, s_b = 0.9999999f, s_sink;

    /// <summary>Measured GFLOP/s of <paramref name="threads"/> cores running FMAs at once.</summary>
    public static double Measure(int threads, double seconds = 0.4)
    {
        var results = new double[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => results[t] = OneCore(seconds))).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        return results.Sum();
    }

    private static double OneCore(double seconds)
    {
        const int iterations = 1 << 16;
        double best = 0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds)
        {
            long start = Stopwatch.GetTimestamp();
            double flops = Avx512F.IsSupported ? Run512(iterations) : Fma.IsSupported ? Run256(iterations) : 0;
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, flops / elapsed / 1e9);
        }
        return best;
    }

    // 12 independent accumulators cover the FMA latency (4 cycles) times two pipes with room to spare.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static double Run512(int iterations)
    {
        var a = Vector512.Create(s_a); var b = Vector512.Create(s_b);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(a, b, c0); c1 = Avx512F.FusedMultiplyAdd(a, b, c1);
            c2 = Avx512F.FusedMultiplyAdd(a, b, c2); c3 = Avx512F.FusedMultiplyAdd(a, b, c3);
            c4 = Avx512F.FusedMultiplyAdd(a, b, c4); c5 = Avx512F.FusedMultiplyAdd(a, b, c5);
            c6 = Avx512F.FusedMultiplyAdd(a, b, c6); c7 = Avx512F.FusedMultiplyAdd(a, b, c7);
            c8 = Avx512F.FusedMultiplyAdd(a, b, c8); c9 = Avx512F.FusedMultiplyAdd(a, b, c9);
            c10 = Avx512F.FusedMultiplyAdd(a, b, c10); c11 = Avx512F.FusedMultiplyAdd(a, b, c11);
        }
        var sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        s_sink += sum.ToScalar();
        return (double)iterations * 12 * 16 * 2;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static double Run256(int iterations)
    {
        var a = Vector256.Create(s_a); var b = Vector256.Create(s_b);
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(a, b, c0); c1 = Fma.MultiplyAdd(a, b, c1);
            c2 = Fma.MultiplyAdd(a, b, c2); c3 = Fma.MultiplyAdd(a, b, c3);
            c4 = Fma.MultiplyAdd(a, b, c4); c5 = Fma.MultiplyAdd(a, b, c5);
            c6 = Fma.MultiplyAdd(a, b, c6); c7 = Fma.MultiplyAdd(a, b, c7);
            c8 = Fma.MultiplyAdd(a, b, c8); c9 = Fma.MultiplyAdd(a, b, c9);
            c10 = Fma.MultiplyAdd(a, b, c10); c11 = Fma.MultiplyAdd(a, b, c11);
        }
        var sum = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
        s_sink += sum.ToScalar();
        return (double)iterations * 12 * 8 * 2;
    }
}
