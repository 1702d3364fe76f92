// Benchmark of Kernels/FloatGemm/Gemm against the naive triple loop (GemmReference) measured in the same run:
// square sizes and the LeNet-300-100 training shapes. Each shape is first checked against the reference.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`gemm`: GFLOP/s of Gemm.Multiply on all threads and one thread, versus the naive loop.</summary>
internal static class GemmBench
{
    private sealed record Shape(string Name, bool TransA, bool TransB, int M, int N, int K);

    private static readonly Shape[] Shapes =
    [
        new("square 128", false, false, 128, 128, 128),
        new("square 512", false, false, 512, 512, 512),
        new("square 1024", false, false, 1024, 1024, 1024),
        // Forward Y = X·Wᵀ with W [out, in]: m = batch.
        new("fc1 fwd b=1", false, true, 1, 300, 784),
        new("fc1 fwd b=64", false, true, 64, 300, 784),
        new("fc1 fwd b=256", false, true, 256, 300, 784),
        new("fc2 fwd b=1", false, true, 1, 100, 300),
        new("fc2 fwd b=64", false, true, 64, 100, 300),
        new("fc2 fwd b=256", false, true, 256, 100, 300),
        new("fc3 fwd b=1", false, true, 1, 10, 100),
        new("fc3 fwd b=64", false, true, 64, 10, 100),
        new("fc3 fwd b=256", false, true, 256, 10, 100),
        // Backward dW = dYᵀ·X: [300, batch]·[batch, 784].
        new("fc1 dW b=1", true, false, 300, 784, 1),
        new("fc1 dW b=64", true, false, 300, 784, 64),
        new("fc1 dW b=256", true, false, 300, 784, 256),
        // Backward dX = dY·W: [batch, 300]·[300, 784].
        new("fc1 dX b=64", false, false, 64, 784, 300),
        // MiniLM (sequence 128, hidden 384, FFN 1536), Linear weights [out, in].
        new("minilm qkv", false, true, 128, 384, 384),
        new("minilm ffn1", false, true, 128, 1536, 384),
        new("minilm ffn2", false, true, 128, 384, 1536),
        // The same at batch 8 as the fused graph runs them: Gemm(X [1024, in], W [in, out]).
        new("minilm qkv b8", false, false, 1024, 384, 384),
        new("minilm ffn1 b8", false, false, 1024, 1536, 384),
        new("minilm ffn2 b8", false, false, 1024, 384, 1536),
        // Convolution as GEMM: W [Cout, Cin·9] · im2col [Cin·9, H·W].
        new("conv 64@56", false, false, 64, 3136, 576),
        new("conv 512@7", false, false, 512, 49, 4608),
    ];

    /// <summary>Runs the benchmark (args[0], if given, keeps only shapes whose name contains it); returns an exit code.</summary>
    public static int Run(string[] args)
    {
        string filter = args.FirstOrDefault() ?? "";
        double ghz = Timing.CpuGhz();
        int cores = Environment.ProcessorCount;
        double nominal = cores * 32 * ghz;
        double peak = FmaPeak.Measure(cores), peakOne = FmaPeak.Measure(1);
        Console.WriteLine($"Gemm fp32, path {Cpu.Active}, {Cpu.Threads} threads; measured FMA peak of {cores} cores = {peak:0.0} GFLOP/s, " +
            $"of 1 core = {peakOne:0.0} (nominal {cores} × 32 flop/cycle × {ghz:0.00} GHz = {nominal:0.0}); '% pk' is of the measured peak");
        // 32 flop/cycle is two 256-bit FMA pipes (Zen 4); a core with two 512-bit FMA units reaches 64, so the
        // peak is measured with a register-only FMA loop on every core rather than assumed.
        Console.WriteLine("times are the best of repeated runs; 'all thr' uses Cpu.Threads, '1 thread' sets Cpu.Threads = 1; '1 thr cpu' " +
            "divides by the thread's CPU time instead of wall time (Linux), which leaves out time the OS gave to other processes");
        Console.WriteLine($"{"shape",-14} {"m",5} {"n",5} {"k",5}  {"all thr",8} {"1 thread",8} {"naive",7} {"x naive",8} " +
            $"{"% pk all",8} {"% pk 1",7} {"1 thr cpu",9} {"% pk",6}");
        int failures = 0;
        foreach (var s in Shapes.Where(s => s.Name.Contains(filter, StringComparison.Ordinal)))
        {
            var rng = new Rng(1);
            var a = Random(rng, s.M * s.K); var b = Random(rng, s.K * s.N);
            var c = new float[s.M * s.N]; var expected = new float[s.M * s.N];
            int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
            void Fast() => Gemm.Multiply(s.TransA, s.TransB, s.M, s.N, s.K, a, b, c);
            void Naive() => GemmReference.Multiply(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, b, ldb, 0f, expected, s.N);

            Naive(); Fast();
            if (!Close(c, expected, s.K)) { Console.WriteLine($"{s.Name}: MISMATCH against the reference"); failures++; continue; }

            double flops = 2.0 * s.M * s.N * s.K;
            // All threads and one thread alternately, best of each: on a shared machine a quiet moment is what we look for.
            double bestAll = double.MaxValue, bestOne = double.MaxValue;
            int saved = Cpu.Threads;
            for (int round = 0; round < 3; round++)
            {
                bestAll = Math.Min(bestAll, Timing.MeasureSeconds(Fast));
                Cpu.Threads = 1;
                bestOne = Math.Min(bestOne, Timing.MeasureSeconds(Fast));
                Cpu.Threads = saved;
            }
            double all = flops / bestAll / 1e9, one = flops / bestOne / 1e9;
            Cpu.Threads = 1;
            double oneCpu = flops / BestThreadCpuSeconds(Fast) / 1e9;
            Cpu.Threads = saved;
            // The naive loop needs seconds per call at 1024; one timed call (after the check's warm-up) is enough there.
            double naive = flops / Timing.MeasureSeconds(Naive, flops > 1e9 ? 0 : 0.3) / 1e9;
            Console.WriteLine($"{s.Name,-14} {s.M,5} {s.N,5} {s.K,5}  {all,8:0.0} {one,8:0.0} {naive,7:0.00} {all / naive,8:0.0} " +
                $"{100 * all / peak,7:0.0}% {100 * one / peakOne,6:0.0}% {oneCpu,9:0.0} {100 * oneCpu / peakOne,5:0.0}%");
        }
        return failures == 0 ? 0 : 1;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    private struct TimeSpec { public long Seconds, Nanoseconds; }

    /// <summary>CPU seconds used by the calling thread so far (CLOCK_THREAD_CPUTIME_ID), NaN off Linux.</summary>
    private static double ThreadCpuSeconds()
    {
        if (!OperatingSystem.IsLinux() || ClockGetTime(3, out var t) != 0) return double.NaN;
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    /// <summary>Best thread-CPU seconds per call over batches of about 3 ms for a second, after a warm-up call.</summary>
    internal static double BestThreadCpuSeconds(Action action)
    {
        action();
        var total = Stopwatch.StartNew();
        action();
        int batch = (int)Math.Clamp(3e-3 / Math.Max(total.Elapsed.TotalSeconds, 1e-7), 1, 100_000);
        double best = double.MaxValue;
        total.Restart();
        while (total.Elapsed.TotalSeconds < 1)
        {
            double start = ThreadCpuSeconds();
            for (int i = 0; i < batch; i++) action();
            best = Math.Min(best, (ThreadCpuSeconds() - start) / batch);
        }
        return best;
    }

    private static float[] Random(Rng rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = rng.NextNormal();
        return x;
    }

    // Normal inputs: a sum of k products has magnitude ~√k; allow 1e-4 of the k-term sum of |a||b| (~0.64k).
    private static bool Close(float[] c, float[] expected, int k)
    {
        double tol = 1e-4 * Math.Max(1, k);
        for (int i = 0; i < c.Length; i++)
            if (!(Math.Abs(c[i] - expected[i]) <= tol)) return false;
        return true;
    }
}
