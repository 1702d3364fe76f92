// Observers watch the values flowing through a point of the model (activations during calibration or
// training, or a weight) and choose quantization parameters from what they saw, after PyTorch's
// torch/ao/quantization/observer.py. An observer is a module that passes its input through unchanged.
// Non-finite values (NaN, ±∞) are ignored: one overflow must not make the scale infinite.
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Quantization.Observers;

/// <summary>How an observer turns the values it saw into a quantization range.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,
    /// <summary>Exponential moving averages of each batch's min and max (PyTorch's MovingAverageMinMaxObserver).</summary>
    MovingAverage,
    /// <summary>Clip a small fraction of the most extreme values (a percentile of the histogram).</summary>
    Percentile,
    /// <summary>The clipping threshold minimising the KL divergence to the histogram (TensorRT's entropy calibrator).</summary>
    Entropy,
    /// <summary>The clipping range minimising the expected quantization mean squared error.</summary>
    Mse,
}

/// <summary>Settings of the observers; the defaults are those of PyTorch and TensorRT.</summary>
public sealed record ObserverOptions
{
    /// <summary>Histogram bins of the histogram-based observers (TensorRT: 2048).</summary>
    public int Bins { get; init; } = 2048;
    /// <summary>For <see cref="CalibrationMethod.Percentile"/>: the percentage of values kept inside the range.</summary>
    public double Percentile { get; init; } = 99.99;
    /// <summary>For <see cref="CalibrationMethod.MovingAverage"/>: the weight c of each new batch (PyTorch: 0.01).</summary>
    public float AveragingConstant { get; init; } = 0.01f;
    /// <summary>For <see cref="CalibrationMethod.Entropy"/>: the levels the candidate distributions are quantized to (TensorRT: 128).</summary>
    public int QuantizedBins { get; init; } = 128;

    /// <summary>Throws a one-line error for out-of-range settings.</summary>
    public ObserverOptions Validate()
    {
        if (Bins < 2 || Bins > 1 << 20) throw new CondenseException($"histogram bins must be 2–{1 << 20}, got {Bins}");
        if (!(Percentile > 0 && Percentile <= 100)) throw new CondenseException($"percentile must be in (0, 100], got {Percentile}");
        if (!(AveragingConstant > 0f && AveragingConstant <= 1f)) throw new CondenseException($"averaging constant must be in (0, 1], got {AveragingConstant}");
        if (QuantizedBins < 2) throw new CondenseException($"quantized bins must be at least 2, got {QuantizedBins}");
        return this;
    }
}

/// <summary>Records statistics of the values it sees and computes quantization parameters from them.</summary>
public abstract class Observer : Module
{
    /// <summary>Adds a batch of values to the statistics (streaming: batches may come one at a time).</summary>
    public abstract void Observe(ReadOnlySpan<float> batch);

    /// <summary>Forgets everything observed.</summary>
    public abstract void Reset();

    /// <summary>True once at least one finite value was observed.</summary>
    public abstract bool HasObservations { get; }

    /// <summary>
    /// The range [min, max] the method chooses to represent, before 0 is added to it; only valid when
    /// <see cref="HasObservations"/>. Clipping methods return a range narrower than the data's.
    /// </summary>
    public abstract (float Min, float Max) ClipRange(QuantRange range, bool symmetric);

    /// <summary>
    /// The quantization parameters for <paramref name="range"/>: <see cref="QuantParams.FromMinMax"/> of
    /// <see cref="ClipRange"/>. Before any observation, scale 1 and zero point 0, as PyTorch returns.
    /// </summary>
    public QuantParams Compute(QuantRange range, bool symmetric)
    {
        if (!HasObservations) return new QuantParams(1f, range.Clamp(0), range);
        var (min, max) = ClipRange(range, symmetric);
        return QuantParams.FromMinMax(min, max, range, symmetric);
    }

    /// <summary>Observes the input and returns it unchanged.</summary>
    public sealed override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Observe(input.Data);
        return input;
    }

    /// <summary>A new observer of the given method.</summary>
    public static Observer Create(CalibrationMethod method, ObserverOptions? options = null)
    {
        options = (options ?? new ObserverOptions()).Validate();
        return method switch
        {
            CalibrationMethod.MinMax => new MinMaxObserver(),
            CalibrationMethod.MovingAverage => new MovingAverageMinMaxObserver(options.AveragingConstant),
            CalibrationMethod.Percentile => new PercentileObserver(options.Percentile, options.Bins),
            CalibrationMethod.Entropy => new EntropyObserver(options.Bins, options.QuantizedBins),
            CalibrationMethod.Mse => new MseObserver(options.Bins),
            _ => throw new CondenseException($"unknown calibration method {method}"),
        };
    }
}
