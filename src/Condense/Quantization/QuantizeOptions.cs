// The options of a post-training quantization pass, validated once.
using Condense.Quantization.Observers;

namespace Condense.Quantization;

/// <summary>What is quantized and when activation ranges are found.</summary>
public enum QuantizationMode
{
    /// <summary>Weights stored as integers; activations quantized on the fly from each batch's range.</summary>
    Dynamic,
    /// <summary>Weights and activations quantized; activation ranges calibrated beforehand on sample data.</summary>
    Static,
    /// <summary>Only the weights are quantized; activations stay float.</summary>
    WeightOnly,
}

/// <summary>Options of <see cref="Quantizer.Quantize"/>.</summary>
public sealed record QuantizeOptions
{
    /// <summary>Dynamic, static or weight-only.</summary>
    public QuantizationMode Mode { get; init; } = QuantizationMode.Static;
    /// <summary>Weight bits, 2–8 (symmetric, restricted range: ±(2^(b−1) − 1)).</summary>
    public int WeightBits { get; init; } = 8;
    /// <summary>One scale per output channel (row) of each weight, or one per tensor.</summary>
    public bool PerChannel { get; init; } = true;
    /// <summary>How static mode turns observed activations into ranges.</summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;
    /// <summary>Observer settings (bins, percentile).</summary>
    public ObserverOptions Observer { get; init; } = new();
    /// <summary>How many samples static mode calibrates on (at most the data set's size).</summary>
    public int CalibrationSamples { get; init; } = 1000;
    /// <summary>Layers left in float: patterns ('*', '?') matched against weight names.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>Throws a one-line error for out-of-range options.</summary>
    public QuantizeOptions Validate()
    {
        if (WeightBits is < 2 or > 8) throw new CondenseException($"weight bits must be in 2..8, got {WeightBits}");
        if (CalibrationSamples < 1) throw new CondenseException($"calibration samples must be positive, got {CalibrationSamples}");
        Observer.Validate();
        return this;
    }
}
