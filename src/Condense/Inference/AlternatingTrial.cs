// A choice between two ways of running the same calls that give the same results, settled by measuring both: after
// WarmupCalls calls (the JIT's tiers, first-touch page faults), calls alternate between the ways — so a slow minute of a
// shared machine falls on both — until each has Samples timed calls; then every call takes the way of the lower median.
// The choice a machine needs cannot always be known from its CPU flags (SmallLayers.cs); a measurement can.
using System.Diagnostics;

namespace Condense.Inference;

/// <summary>Two interchangeable ways (false, true) of running a call, timed alternately until the faster is known.</summary>
/// <param name="clock">Timestamps (Stopwatch's by default; tests pass their own).</param>
internal sealed class AlternatingTrial(Func<long>? clock = null)
{
    /// <summary>Calls run before any is timed.</summary>
    public const int WarmupCalls = 10;

    /// <summary>Timed calls of each way before the choice.</summary>
    public const int Samples = 9;

    private readonly Func<long> _clock = clock ?? Stopwatch.GetTimestamp;
    private readonly object _lock = new();
    private readonly List<long> _false = [], _true = [];
    private int _calls;

    /// <summary>The way chosen, once both are measured; null while the trial runs.</summary>
    public bool? Choice { get; private set; }

    /// <summary>Runs <paramref name="call"/> the way this call should take (its argument), timing it while the trial lasts.</summary>
    public T Run<T>(Func<bool, T> call)
    {
        bool way, timed;
        // The call itself runs outside the lock: calls from several threads run at once, during the trial and after.
        lock (_lock)
        {
            if (Choice is bool chosen) (way, timed) = (chosen, false);
            else (way, timed) = (++_calls % 2 == 0, _calls > WarmupCalls);
        }
        long start = timed ? _clock() : 0;
        var result = call(way);
        if (timed) Record(way, _clock() - start);
        return result;
    }

    // Adds one timed call of `way`; the choice is made when both ways have Samples.
    private void Record(bool way, long ticks)
    {
        lock (_lock)
        {
            if (Choice is not null) return;
            (way ? _true : _false).Add(ticks);
            if (_true.Count >= Samples && _false.Count >= Samples) Choice = Median(_true) < Median(_false);
        }
    }

    private static long Median(List<long> times) => times.Order().ElementAt(times.Count / 2);
}
