// What a per-layer diagnosis reports (LayerDiagnosis.cs computes it): for every value both models compute, how far the
// compressed model's value is from the reference's — SQNR in dB, 10·log10(Σ ref² / Σ (ref − x)²), the measure ONNX
// Runtime's qdq_loss_debug and NNCF report; the cosine of the two flattened tensors; the largest absolute error — with
// the reference's range, and the quantization of the layer's input when the compressed layer has one (the range
// scale·(qmin − zp) … scale·(qmax − zp), the share of values clipped by it, and channel outliers). Layers come worst
// first; hints name the fix (DiagnosisFix) in library terms, the command line turns them into its options.
namespace Condense.Reports.Diagnosis;

/// <summary>The per-layer comparison of a compressed model with its reference, worst layer first.</summary>
/// <param name="Samples">Input samples both models ran on (the batch dimension summed over the batches).</param>
/// <param name="Quantized">Whether the compressed model holds quantization nodes (QuantizeLinear, DequantizeLinear).</param>
/// <param name="Layers">
/// The outputs of layers with a weight (Gemm, MatMul or Conv by a weight, an embedding lookup) and the model's outputs, lowest SQNR
/// first (ties in graph order): what a pass compresses, and what its options can leave alone.
/// </param>
/// <param name="Values">Every other compared value (activations, norms, attention products, residual sums), lowest SQNR first.</param>
/// <param name="NotFound">Values of the reference the compressed model does not compute under a matching name.</param>
/// <param name="ShapeDiffers">Values both compute with different shapes (structured pruning removes channels): not compared.</param>
public sealed record DiagnosisReport(int Samples, bool Quantized, IReadOnlyList<LayerDiagnostic> Layers, IReadOnlyList<LayerDiagnostic> Values,
    int NotFound, IReadOnlyList<string> ShapeDiffers)
{
    /// <summary>The lowest SQNR over the layers, in dB (+∞ when every layer is exact or there is none).</summary>
    public double WorstSqnrDb => Layers.Count > 0 ? Layers[0].SqnrDb : double.PositiveInfinity;
}

/// <summary>One value both models compute, compared.</summary>
/// <param name="Value">The value's name in the reference graph.</param>
/// <param name="Node">The reference node that computes it.</param>
/// <param name="OpType">That node's operator.</param>
/// <param name="Weight">The node's weight initializer (a Gemm, MatMul or Conv's, an embedding lookup's table): what a pass's exclusion names.</param>
/// <param name="SqnrDb">10·log10(Σ ref² / Σ (ref − x)²) over every element of every sample; +∞ when exact.</param>
/// <param name="Cosine">Σ ref·x / √(Σ ref² · Σ x²) over every element of every sample (1 when both are zero).</param>
/// <param name="MaxAbsError">The largest |ref − x|.</param>
/// <param name="Min">The smallest reference value.</param>
/// <param name="Max">The largest reference value.</param>
public sealed record LayerDiagnostic(string Value, string Node, string OpType, string? Weight, double SqnrDb, double Cosine, double MaxAbsError,
    float Min, float Max)
{
    /// <summary>The compressed value's name when it differs from <see cref="Value"/> (matched through a quantized alias).</summary>
    public string? CompressedValue { get; init; }

    /// <summary>
    /// True when the compressed model holds this value rescaled per channel (cross-layer equalization moves a factor per channel
    /// from one layer into the next); the metrics are then those of the value times the least-squares gain of each channel.
    /// </summary>
    public bool Rescaled { get; init; }

    /// <summary>How much lower this value's SQNR is than the worst of the compared values it is computed from, in dB (inputs count as exact).</summary>
    public double SqnrDropDb { get; init; }

    /// <summary>The quantization of the node's input in the compressed model, when one of its inputs passes through a quantizer.</summary>
    public QuantizedInput? Input { get; init; }

    /// <summary>What may fix this layer, most specific first; empty when nothing applies.</summary>
    public IReadOnlyList<DiagnosisHint> Hints { get; init; } = [];
}

/// <summary>The quantization a compressed node applies to one of its inputs (the one clipping most when several are quantized).</summary>
/// <param name="Value">The compressed model's value that is quantized.</param>
/// <param name="Dynamic">True for DynamicQuantizeLinear: the range follows each batch, nothing is clipped.</param>
/// <param name="Low">scale·(qmin − zero point): the lowest value the quantizer represents (null when dynamic).</param>
/// <param name="High">scale·(qmax − zero point): the highest (null when dynamic).</param>
/// <param name="Clipped">The share of values beyond half a step outside [Low, High], which saturate (0 when dynamic).</param>
/// <param name="Channels">Input channels of a Gemm/MatMul (last axis) or Conv (axis 1) input; 0 for other nodes.</param>
/// <param name="OutlierChannels">Channels whose max |x| exceeds the outlier ratio times the median channel's (over channels not always zero).</param>
/// <param name="OutlierRatio">The largest channel's max |x| over the median channel's (0 when not a layer input).</param>
public sealed record QuantizedInput(string Value, bool Dynamic, float? Low, float? High, double Clipped, int Channels, int OutlierChannels,
    double OutlierRatio);

/// <summary>A likely cause of a layer's error and the fix for it.</summary>
/// <param name="Fix">One of <see cref="DiagnosisFix"/>'s names.</param>
/// <param name="Reason">What was measured, in words.</param>
public sealed record DiagnosisHint(string Fix, string Reason);

/// <summary>The fixes a diagnosis suggests, by name (the JSON form's `fix`).</summary>
public static class DiagnosisFix
{
    /// <summary>Move input-channel outliers into the weights (SmoothQuant): for Gemm/MatMul layers.</summary>
    public const string SmoothQuant = "smoothquant";

    /// <summary>Equalize per-channel ranges across consecutive layers (cross-layer equalization): for convolution chains.</summary>
    public const string Equalize = "equalize";

    /// <summary>Leave the layer uncompressed (in float, or unpruned).</summary>
    public const string Exclude = "exclude";

    /// <summary>Calibrate the activation range again: a method or data that covers the values the layer sees.</summary>
    public const string Calibration = "calibration";
}

/// <summary>Thresholds of the diagnosis' hints.</summary>
public sealed record DiagnosisOptions
{
    /// <summary>A channel is an outlier when its max |x| exceeds this many times the median channel's (default 20).</summary>
    public double OutlierRatio { get; init; } = 20;

    /// <summary>A layer's error jumps when its SQNR is this many dB below its inputs' (default 10).</summary>
    public double JumpDb { get; init; } = 10;

    /// <summary>…and ends below this SQNR in dB (default 25, about 6 % noise): a good first layer below exact inputs is no jump.</summary>
    public double JumpBelowDb { get; init; } = 25;

    /// <summary>An input saturates when more than this share of its values is clipped (default 0.01).</summary>
    public double SaturatedFraction { get; init; } = 0.01;

    /// <summary>Checks the thresholds; returns this options object.</summary>
    public DiagnosisOptions Validate()
    {
        if (!(OutlierRatio > 1)) throw new CondenseException($"the outlier ratio must be above 1, got {OutlierRatio}");
        if (!(JumpDb > 0)) throw new CondenseException($"the SQNR jump must be positive, got {JumpDb}");
        if (!double.IsFinite(JumpBelowDb)) throw new CondenseException($"the SQNR below which a jump counts must be finite, got {JumpBelowDb}");
        if (!(SaturatedFraction is >= 0 and < 1)) throw new CondenseException($"the saturated fraction must be in [0, 1), got {SaturatedFraction}");
        return this;
    }
}
