// How the evaluations time a model: one warm-up run, then runs until the time is spent (at least three), in evaluation
// mode without gradients; the median, which one slow run on a shared machine does not move.
using System.Diagnostics;
using Condense.Autograd;
using Condense.Nn;

namespace Condense.Inference;

internal static class MedianTime
{
    /// <summary>Median milliseconds of <paramref name="run"/> with <paramref name="model"/> in evaluation mode.</summary>
    public static double Milliseconds(Module model, Action run, double seconds)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        run();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || total.Elapsed.TotalSeconds < seconds)
        {
            var clock = Stopwatch.StartNew();
            run();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
