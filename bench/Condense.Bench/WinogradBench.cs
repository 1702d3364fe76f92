// Benchmark of the Winograd convolution (Kernels/Conv/Conv2dWinograd*.cs) against the direct convolution it replaces,
// per layer shape, in one run: the 3×3 stride-1 convolutions of ResNet-18 (224×224) and resnet-mini (28×28) at batch 1
// and 8 (and resnet-mini at 256), each as the inference graph runs it (weight packed once, bias, residual, Relu). The
// three forms (direct, F(2×2, 3×3), F(4×4, 3×3)) are timed in alternating rounds so that all see the same machine load,
// best of each; "auto" is what WinogradMode.Auto picks for the shape. With --cpu: one thread, timed by its thread CPU time
// (what the code costs on a machine whose other load would otherwise show in the wall clock). Also prints each Winograd form's largest difference
// from the direct convolution, relative to the largest output.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`winograd`: per-layer time of the direct and Winograd convolutions, and their ratio.</summary>
internal static class WinogradBench
{
    private static readonly (string Name, int C, int HW, int M, int[] Batches)[] Layers =
    [
        ("r18 64-64 56", 64, 56, 64, [1, 8]),
        ("r18 128-128 28", 128, 28, 128, [1, 8]),
        ("r18 256-256 14", 256, 14, 256, [1, 8]),
        ("r18 512-512 7", 512, 7, 512, [1, 8]),
        ("rmini 1-16 28", 1, 28, 16, [1, 8, 256]),
        ("rmini 16-16 28", 16, 28, 16, [1, 8, 256]),
        ("rmini 32-32 14", 32, 14, 32, [1, 8, 256]),
        ("rmini 64-64 7", 64, 7, 64, [1, 8, 256]),
    ];

    private static readonly WinogradMode[] Forms = [WinogradMode.Off, WinogradMode.F2, WinogradMode.F4];

    private static bool s_threadCpu;

    /// <summary>Runs the benchmark (args[0], if given, keeps only layers whose name contains it); returns an exit code.</summary>
    public static int Run(string[] args)
    {
        string filter = args.FirstOrDefault(a => !a.StartsWith('-')) ?? "";
        Cpu.WorkerSpin = args.Contains("--spin");
        s_threadCpu = args.Contains("--cpu");
        if (s_threadCpu) Cpu.Threads = 1;
        Console.WriteLine($"3x3 stride-1 conv + bias + residual + Relu, path {Cpu.Active}, {Cpu.Threads} threads, " +
            $"{(s_threadCpu ? "thread CPU time, " : "")}" +
            $"{(Cpu.WorkerSpin ? "spinning" : "no spinning")}; best of alternating rounds; x = direct ms / that form's ms (above 1: faster)");
        Console.WriteLine($"{"layer",-16} {"batch",5} {"direct ms",10} {"F2 ms",9} {"F4 ms",9} {"x F2",6} {"x F4",6} {"auto",5} " +
            $"{"F2 diff",9} {"F4 diff",9}");
        foreach (var (name, c, hw, m, batches) in Layers.Where(l => l.Name.Contains(filter, StringComparison.Ordinal)))
            foreach (int n in batches)
                Measure(name, new Conv2dGeometry(n, c, hw, hw, m, 3, 3, Conv2dOptions.Square(1, 1)));
        return 0;
    }

    private static void Measure(string name, Conv2dGeometry g)
    {
        var rng = new Rng(1);
        var x = Random(rng, g.Batch * g.InChannels * g.InPixels);
        // He-scaled weights keep the outputs near the inputs' scale, as in a trained network.
        float scale = MathF.Sqrt(2f / (9 * g.InChannels));
        var w = Random(rng, g.OutChannels * g.ColumnRows).Select(v => v * scale).ToArray();
        var b = Random(rng, g.OutChannels);
        var r = Random(rng, g.Batch * g.OutChannels * g.OutPixels);
        var packed = new Conv2dPackedWeights();
        var outputs = Forms.Select(_ => new float[r.Length]).ToArray();
        var actions = Forms.Select((mode, i) => (Action)(() =>
        {
            using var _ = Conv2dWinograd.Force(mode);
            Conv2dKernel.Forward(g, x, w, b, outputs[i], r, relu: true, packed);
        })).ToArray();
        var best = Forms.Select(_ => double.MaxValue).ToArray();
        for (int round = 0; round < (s_threadCpu ? 1 : 4); round++)
            for (int i = 0; i < Forms.Length; i++)
                best[i] = Math.Min(best[i], s_threadCpu ? GemmBench.BestThreadCpuSeconds(actions[i]) : Timing.MeasureSeconds(actions[i], 0.1));
        float largest = outputs[0].Max(MathF.Abs);
        string Diff(int i) => $"{outputs[i].Zip(outputs[0], (a, d) => MathF.Abs(a - d)).Max() / largest,9:E1}";
        string auto = Conv2dWinograd.Choose(g)?.Output switch { 2 => "F2", 4 => "F4", _ => "off" };
        Console.WriteLine($"{name,-16} {g.Batch,5} {best[0] * 1e3,10:0.000} {best[1] * 1e3,9:0.000} {best[2] * 1e3,9:0.000} " +
            $"{best[0] / best[1],6:0.00} {best[0] / best[2],6:0.00} {auto,5} {Diff(1)} {Diff(2)}");
    }

    private static float[] Random(Rng rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }
}
