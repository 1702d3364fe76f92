// The per-step profile of the integer conv engine (int8-resnet --steps): each step's best time over the rounds, and
// for a convolution its multiply-adds and the int8 GOP/s it reached (2 × multiply-adds per second), so that each layer
// can be set against the qgemm bench; then the share of each kind of step in the whole call, and the least time a call
// spent outside its steps.
using System.Diagnostics;
using Condense.Autograd;
using Condense.Inference;
using Condense.Kernels.Conv;
using Condense.Tensors;

namespace Condense.Bench;

internal static class Int8ResNetProfile
{
    public static void Print(IntegerConvModel engine, Tensor x, int rounds)
    {
        var steps = engine.Steps;
        var best = Enumerable.Repeat(long.MaxValue, steps.Count).ToArray();
        long roundSteps = 0;
        engine.StepTimer = (i, ticks) => { best[i] = Math.Min(best[i], ticks); roundSteps += ticks; };
        double total = double.MaxValue, outside = double.MaxValue;
        using (GradMode.NoGrad())
            for (int round = 0; round <= rounds; round++)
            {
                roundSteps = 0;
                var clock = Stopwatch.StartNew();
                engine.Forward(x);
                double ms = clock.Elapsed.TotalMilliseconds;
                if (round > 0) (total, outside) = (Math.Min(total, ms), Math.Min(outside, ms - roundSteps * 1000.0 / Stopwatch.Frequency));
                else Array.Fill(best, long.MaxValue);
            }
        engine.StepTimer = null;
        int n = x.Shape[0];
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        using (GradMode.NoGrad()) engine.Forward(x);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        Console.WriteLine($"batch {n}: best call {total:F2} ms, of which outside the steps at least {outside:F3} ms; one more call allocated "
            + $"{allocated / 1e6:F2} MB");
        Console.WriteLine($"{"step",-44} {"ms",7} {"MMAC",7} {"GOP/s",7}");
        var byKind = new Dictionary<string, double>();
        for (int i = 0; i < steps.Count; i++)
        {
            double ms = best[i] * 1000.0 / Stopwatch.Frequency;
            string kind = steps[i].GetType().Name.Replace("Step", "");
            string name = kind;
            double macs = 0;
            if (steps[i] is IntegerConvModel.LayerStep layer)
            {
                var s = layer.InputShape;
                if (layer.Conv is { } options)
                {
                    var g = new Conv2dGeometry(n, s[0], s[1], s[2], layer.OutFeatures, layer.KernelH, layer.KernelW, options);
                    macs = (double)g.Flops / 2;
                    kind = $"conv {layer.KernelH}x{layer.KernelW}";
                    name = $"{layer.Name} {s[0]}→{g.OutChannels} {s[1]}x{s[2]} k{layer.KernelH} s{options.StrideH}";
                }
                else
                {
                    macs = (double)n * layer.Weight.OutFeatures * layer.Weight.InFeatures;
                    name = $"{layer.Name} fc";
                }
            }
            else if (steps[i] is IntegerConvModel.AddStep add) name = $"add {add.Name}";
            else if (steps[i] is IntegerConvModel.FloatNodeStep f) name = $"float {f.Node.OpType} {f.Node.Name}";
            else if (steps[i] is IntegerConvModel.MaxPoolStep pool)
                name = $"maxpool{(pool.ChannelsLast ? " nhwc" : "")} {pool.Window.KernelH}x{pool.Window.KernelW} s{pool.Window.StrideH} {pool.Name}";
            else if (steps[i] is IntegerConvModel.RequantizeStep requantize) name = $"requantize {requantize.Name}";
            byKind[kind] = byKind.GetValueOrDefault(kind) + ms;
            string rate = macs > 0 ? $"{2 * macs / ms / 1e6,7:F0}" : "";
            Console.WriteLine($"{Trim(name),-44} {ms,7:F3} {(macs > 0 ? $"{macs / 1e6,7:F1}" : ""),7} {rate}");
        }
        foreach (var (kind, ms) in byKind.OrderByDescending(p => p.Value)) Console.WriteLine($"  {kind,-20} {ms,7:F2} ms");
        Console.WriteLine($"  {"sum of steps",-20} {byKind.Values.Sum(),7:F2} ms");
    }

    private static string Trim(string name) => name.Length <= 44 ? name : name[..44];
}
