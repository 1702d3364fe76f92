// The simplest observers: the running min and max of everything seen, and PyTorch's exponential moving
// average of each batch's min and max (for activations during quantization-aware training).
using Condense.Distributed;

namespace Condense.Quantization.Observers;

/// <summary>Tracks the smallest and largest finite value seen.</summary>
public sealed class MinMaxObserver : Observer
{
    /// <summary>The smallest value seen (+∞ before any).</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest value seen (−∞ before any).</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <inheritdoc />
    public override bool HasObservations => Min <= Max;

    /// <inheritdoc />
    public override void Observe(ReadOnlySpan<float> batch)
    {
        if (!BatchMinMax(batch, out float min, out float max)) return;
        Min = MathF.Min(Min, min);
        Max = MathF.Max(Max, max);
    }

    /// <inheritdoc />
    public override void Reset() => (Min, Max) = (float.PositiveInfinity, float.NegativeInfinity);

    /// <summary>Gives every observer the range of what all ranks observed (one all-reduce for the minima, one for the maxima).</summary>
    public static void Merge(IReadOnlyList<MinMaxObserver> observers, Communicator world)
    {
        if (!world.IsDistributed) return;
        var mins = observers.Select(o => o.Min).ToArray();
        var maxes = observers.Select(o => o.Max).ToArray();
        world.AllReduce(mins, ReduceOp.Min);
        world.AllReduce(maxes, ReduceOp.Max);
        for (int i = 0; i < observers.Count; i++) (observers[i].Min, observers[i].Max) = (mins[i], maxes[i]);
    }

    /// <inheritdoc />
    public override (float Min, float Max) ClipRange(QuantRange range, bool symmetric) => (Min, Max);

    /// <summary>The finite min and max of a batch; false when it has no finite value.</summary>
    internal static bool BatchMinMax(ReadOnlySpan<float> batch, out float min, out float max)
    {
        min = float.PositiveInfinity;
        max = float.NegativeInfinity;
        foreach (float v in batch)
        {
            if (!float.IsFinite(v)) continue;
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return min <= max;
    }
}

/// <summary>
/// Moving averages of the batch min and max, as PyTorch's MovingAverageMinMaxObserver: the first batch
/// sets them, each later batch moves them by min ← min + c · (batch_min − min) (same for max), in float32.
/// </summary>
public sealed class MovingAverageMinMaxObserver : Observer
{
    /// <summary>Creates the observer with averaging constant <paramref name="averagingConstant"/> (PyTorch: 0.01).</summary>
    public MovingAverageMinMaxObserver(float averagingConstant = 0.01f)
    {
        if (!(averagingConstant > 0f && averagingConstant <= 1f))
            throw new CondenseException($"averaging constant must be in (0, 1], got {averagingConstant}");
        AveragingConstant = averagingConstant;
    }

    /// <summary>The weight c of each new batch.</summary>
    public float AveragingConstant { get; }

    /// <summary>The averaged minimum (+∞ before any batch).</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The averaged maximum (−∞ before any batch).</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <inheritdoc />
    public override bool HasObservations => Min <= Max;

    /// <inheritdoc />
    public override void Observe(ReadOnlySpan<float> batch)
    {
        if (!MinMaxObserver.BatchMinMax(batch, out float min, out float max)) return;
        if (!HasObservations) { (Min, Max) = (min, max); return; }
        Min += AveragingConstant * (min - Min);
        Max += AveragingConstant * (max - Max);
    }

    /// <inheritdoc />
    public override void Reset() => (Min, Max) = (float.PositiveInfinity, float.NegativeInfinity);

    /// <inheritdoc />
    public override (float Min, float Max) ClipRange(QuantRange range, bool symmetric) => (Min, Max);
}
