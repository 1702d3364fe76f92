// Benchmark of the int8 Linear kernel (Kernels/Int8Gemm/QGemm, with requantization fused) against the fp32 Gemm the
// float model runs (Gemm.Multiply, transB: Y = X·Wᵀ), both measured in the same run on the LeNet-300-100
// shapes and two squares. Each int8 result is first checked exactly against QGemmReference. `--dot pairs|quads|emulated|jit|maddubs`
// forces the int8 dot product (Cpu.ActiveInt8Dot: vpmaddwd pairs, AVX-VNNI vpdpbusd quads, their AVX2 emulation, the
// emitted zmm vpdpbusd kernel, or vpmaddubsw quads); `--weight-bits B` draws the weights from ±(2^(B−1) − 1) (default 8;
// the vpmaddubsw quads take 7-bit weights only, 8-bit ones run the pairs).
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`qgemm`: GOP/s of QGemm (uint8 × int8 → uint8) versus GFLOP/s of fp32 Gemm, and the speed ratio.</summary>
internal static class QGemmBench
{
    private sealed record Shape(string Name, int M, int N, int K);

    private static readonly Shape[] Shapes =
    [
        new("fc1 b=1", 1, 300, 784), new("fc2 b=1", 1, 100, 300), new("fc3 b=1", 1, 10, 100),
        new("fc1 b=64", 64, 300, 784), new("fc2 b=64", 64, 100, 300), new("fc3 b=64", 64, 10, 100),
        new("fc1 b=256", 256, 300, 784), new("fc2 b=256", 256, 100, 300), new("fc3 b=256", 256, 10, 100),
        new("square 512", 512, 512, 512), new("square 1024", 1024, 1024, 1024),
    ];

    /// <summary>Runs the benchmark (a first argument keeps only shapes whose name contains it; --dot forces the int8 dot product).</summary>
    public static int Run(string[] args)
    {
        int dotAt = Array.IndexOf(args, "--dot"), bitsAt = Array.IndexOf(args, "--weight-bits");
        Int8Dot? dot = DotOption.Parse(args);
        int weightMax = (1 << ((bitsAt < 0 ? 8 : int.Parse(args[bitsAt + 1], System.Globalization.CultureInfo.InvariantCulture)) - 1)) - 1;
        var options = new[] { dotAt, bitsAt }.Where(i => i >= 0).SelectMany(i => new[] { i, i + 1 }).ToHashSet();
        string filter = args.Where((a, i) => !options.Contains(i)).FirstOrDefault() ?? "";
        using var forced = dot is { } d ? Cpu.Force(d) : null;
        Console.WriteLine("QGemm int8 (uint8 x, int8 W, fused requantization to uint8) vs fp32 Gemm.Multiply(transB); " +
            $"path {Cpu.Active}, int8 dot {Cpu.ActiveInt8Dot} (AVX-VNNI {(Cpu.Supports(Int8Dot.Quads) ? "present" : "absent")}), {Cpu.Threads} threads, " +
            $"weights in ±{weightMax}");
        Console.WriteLine("GOP/s counts 2·m·n·k (= 2 × multiply-adds/s); times are the best of repeated runs; 'x fp32' = fp32 time / int8 time; " +
            "W is packed once (as a model would), X per call");
        Console.WriteLine($"{"shape",-12} {"m",5} {"n",5} {"k",5}  {"int8",7} {"int32 acc",9} {"fp32",7} {"x fp32",7}  " +
            $"{"1-thr int8",10} {"1-thr fp32",10} {"x fp32",7}");
        int failures = 0;
        foreach (var s in Shapes.Where(s => s.Name.Contains(filter, StringComparison.Ordinal)))
        {
            var rng = new Rng(7);
            int m = s.M, n = s.N, k = s.K;
            var x = new byte[m * k]; var w = new sbyte[n * k]; var bias = new int[n];
            for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(2 * weightMax + 1) - weightMax);
            for (int o = 0; o < n; o++) bias[o] = rng.NextInt(1 << 16) - (1 << 15);
            var multiplier = new int[n]; var shift = new int[n];
            for (int o = 0; o < n; o++)
                Requantize.QuantizeMultiplier((0.5 + rng.NextDouble()) / (64 * Math.Sqrt(k)), out multiplier[o], out shift[o]);
            var packed = new PackedInt8Weights(w, n, k);
            const byte zx = 128, zy = 0;
            var y = new byte[m * n]; var expected = new byte[m * n]; var acc = new int[m * n];

            var xf = x.Select(v => (v - zx) / 64f).ToArray(); var wf = w.Select(v => v / 64f).ToArray(); var cf = new float[m * n];
            void Int8() => QGemm.LinearForwardRequantized(m, x, zx, packed, bias, multiplier, shift, zy, zy, 255, y);
            void Int32Acc() => QGemm.LinearForward(m, x, zx, packed, bias, acc);
            void Fp32() => Gemm.Multiply(false, true, m, n, k, xf, wf, cf);

            QGemmReference.LinearForwardRequantized(m, n, k, x, zx, w, bias, multiplier, shift, zy, zy, 255, expected);
            Int8();
            if (!y.AsSpan().SequenceEqual(expected)) { Console.WriteLine($"{s.Name}: MISMATCH against QGemmReference"); failures++; continue; }

            double ops = 2.0 * m * n * k;
            double tInt8 = Timing.MeasureSeconds(Int8), tAcc = Timing.MeasureSeconds(Int32Acc), tFp32 = Timing.MeasureSeconds(Fp32);
            int saved = Cpu.Threads;
            Cpu.Threads = 1;
            double tInt8One = Timing.MeasureSeconds(Int8), tFp32One = Timing.MeasureSeconds(Fp32);
            Cpu.Threads = saved;
            Console.WriteLine($"{s.Name,-12} {m,5} {n,5} {k,5}  " +
                $"{ops / tInt8 / 1e9,7:0.0} {ops / tAcc / 1e9,9:0.0} {ops / tFp32 / 1e9,7:0.0} {tFp32 / tInt8,7:0.00}  " +
                $"{ops / tInt8One / 1e9,10:0.0} {ops / tFp32One / 1e9,10:0.0} {tFp32One / tInt8One,7:0.00}");
        }
        return failures == 0 ? 0 : 1;
    }
}
