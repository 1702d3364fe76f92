// Benchmark of Kernels/Conv2dKernel (im2col + GEMM) against the naive seven loops (Conv2dReference),
// measured in the same run: LeNet-5's two convolutions at batch 64 and 256 and a ResNet-style 3×3 16→16
// convolution on 32×32. Forward is y = conv(x, w) + b; backward is the input and weight gradients (plus the
// bias gradient, whose flops are not counted). Every result is checked against the reference first.
using Condense.Kernels;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`conv`: GFLOP/s of the convolution forward and backward passes, versus the naive loops.</summary>
internal static class ConvBench
{
    private sealed record Case(string Name, Conv2dGeometry Geometry);

    private static Case C(string name, int n, int c, int hw, int m, int k, int pad) =>
        new(name, new Conv2dGeometry(n, c, hw, hw, m, k, k, Conv2dOptions.Square(padding: pad)));

    private static readonly Case[] Cases =
    [
        C("lenet conv1 b=64", 64, 1, 28, 6, 5, 2),
        C("lenet conv1 b=256", 256, 1, 28, 6, 5, 2),
        C("lenet conv2 b=64", 64, 6, 14, 16, 5, 0),
        C("lenet conv2 b=256", 256, 6, 14, 16, 5, 0),
        C("3x3 16-16 32x32 b=64", 64, 16, 32, 16, 3, 1),
    ];

    /// <summary>Runs the benchmark (args[0], if given, keeps only cases whose name contains it); returns an exit code.</summary>
    public static int Run(string[] args)
    {
        string filter = args.FirstOrDefault() ?? "";
        double peak = FmaPeak.Measure(Environment.ProcessorCount);
        Console.WriteLine($"Conv2d fp32 (im2col + GEMM), path {Cpu.Active}, {Cpu.Threads} threads; measured FMA peak {peak:0.0} GFLOP/s");
        Console.WriteLine("GFLOP/s = 2·N·M·OH·OW·C/g·kH·kW per pass (backward counts dx and dw: twice that); best of repeated runs");
        Console.WriteLine($"{"case",-22} {"pass",-8} {"all thr",8} {"1 thread",8} {"naive",7} {"x naive",8} {"ms",8} {"% peak",7}");
        int failures = 0;
        foreach (var c in Cases.Where(c => c.Name.Contains(filter, StringComparison.Ordinal)))
        {
            var g = c.Geometry;
            var rng = new Rng(1);
            var x = Random(rng, g.Batch * g.InChannels * g.InPixels);
            var w = Random(rng, g.OutChannels * g.ColumnRows);
            var b = Random(rng, g.OutChannels);
            var dy = Random(rng, g.Batch * g.OutChannels * g.OutPixels);
            var y = new float[dy.Length]; var yRef = new float[dy.Length];
            var dx = new float[x.Length]; var dxRef = new float[x.Length];
            var dw = new float[w.Length]; var dwRef = new float[w.Length];
            var db = new float[b.Length];

            void Forward() => Conv2dKernel.Forward(g, x, w, b, y);
            void NaiveForward() => Conv2dReference.Forward(g, x, w, b, yRef);
            void Backward()
            {
                Conv2dKernel.BackwardInput(g, w, dy, dx, false);
                Conv2dKernel.BackwardWeight(g, x, dy, dw, false);
                Conv2dKernel.BackwardBias(g, dy, db, false);
            }
            void NaiveBackward()
            {
                Conv2dReference.BackwardInput(g, w, dy, dxRef);
                Conv2dReference.BackwardWeight(g, x, dy, dwRef);
            }

            Forward(); NaiveForward(); Backward(); NaiveBackward();
            if (!Close(y, yRef) || !Close(dx, dxRef) || !Close(dw, dwRef))
            {
                Console.WriteLine($"{c.Name}: MISMATCH against the reference");
                failures++;
                continue;
            }
            Report(c.Name, "forward", g.Flops, Forward, NaiveForward, peak);
            Report(c.Name, "backward", 2 * g.Flops, Backward, NaiveBackward, peak);
        }
        return failures == 0 ? 0 : 1;
    }

    private static void Report(string name, string pass, long flops, Action fast, Action naive, double peak)
    {
        double seconds = Timing.MeasureSeconds(fast);
        int saved = Cpu.Threads;
        Cpu.Threads = 1;
        double one = Timing.MeasureSeconds(fast);
        Cpu.Threads = saved;
        // The naive loops take up to a second per call; one timed call (after the check's warm-up) is enough there.
        double naiveSeconds = Timing.MeasureSeconds(naive, flops > 2e8 ? 0 : 0.3);
        double all = flops / seconds / 1e9;
        Console.WriteLine($"{name,-22} {pass,-8} {all,8:0.0} {flops / one / 1e9,8:0.0} {flops / naiveSeconds / 1e9,7:0.00} " +
            $"{naiveSeconds / seconds,8:0.0} {seconds * 1e3,8:0.00} {100 * all / peak,6:0.0}%");
    }

    private static float[] Random(Rng rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    // Both sum the same products in different orders: allow 1e-4 of the largest magnitude.
    private static bool Close(float[] actual, float[] expected)
    {
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < actual.Length; i++)
            if (!(MathF.Abs(actual[i] - expected[i]) <= 1e-4f * scale)) return false;
        return true;
    }
}
