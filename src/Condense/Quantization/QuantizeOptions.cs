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

/// <summary>How weight-only mode rounds block-wise weights.</summary>
public enum WeightRounding
{
    /// <summary>Round to nearest.</summary>
    Rtn,
    /// <summary>GPTQ: column by column with error feedback through the inverse Hessian of the calibration inputs.</summary>
    Gptq,
    /// <summary>AWQ: round to nearest after per-input-channel scales searched on activation magnitudes.</summary>
    Awq,
}

/// <summary>Options of <see cref="Quantizer"/>.</summary>
public sealed record QuantizeOptions
{
    /// <summary>Dynamic, static or weight-only.</summary>
    public QuantizationMode Mode { get; init; } = QuantizationMode.Static;
    /// <summary>Weight bits, 2–8 (symmetric, restricted range: ±(2^(b−1) − 1)).</summary>
    public int WeightBits { get; init; } = 8;
    /// <summary>One scale per output channel (row) of each weight, or one per tensor.</summary>
    public bool PerChannel { get; init; } = true;
    /// <summary>
    /// Weight-only mode: one scale per this many consecutive input features of each row (block-wise, as ONNX
    /// Runtime's MatMulNBits stores int4 weights), instead of one per row. 16, 32, 64, 128 or 256; null: off.
    /// </summary>
    public int? BlockSize { get; init; }

    /// <summary>
    /// The block size a file format or a rounding needs when none is given: 32 for MatMulNBits (ONNX Runtime's blocks) and for
    /// GPTQ and AWQ, which round block-wise weights (the papers' and ONNX Runtime's usual size is 32 to 128), else none.
    /// </summary>
    public static int? DefaultBlockSize(Onnx.QuantizedOnnxFormat? format, WeightRounding rounding = WeightRounding.Rtn) =>
        format == Onnx.QuantizedOnnxFormat.MatMulNBits || rounding != WeightRounding.Rtn ? 32 : null;
    /// <summary>How weight-only block-wise weights are rounded (GPTQ and AWQ calibrate on the inputs of each layer).</summary>
    public WeightRounding Rounding { get; init; } = WeightRounding.Rtn;
    /// <summary>
    /// Cross-layer equalization (Nagel et al. 2019, §4.1) of the batch-norm-folded float model before calibration: consecutive
    /// Conv/Gemm layers get equal per-channel weight ranges; data-free, the float model's outputs do not change.
    /// </summary>
    public bool Equalize { get; init; }
    /// <summary>
    /// Empirical bias correction (Nagel et al. 2019, §4.2), last: each quantized layer's bias absorbs the mean output shift its
    /// quantized weight causes on the calibration data. Needs calibration data.
    /// </summary>
    public bool BiasCorrection { get; init; }
    /// <summary>
    /// AdaRound (Nagel et al. 2020): per-channel or per-tensor weight codes rounded up or down to reconstruct each layer's
    /// output on sampled calibration inputs, instead of to nearest. Needs calibration data.
    /// </summary>
    public bool AdaRound { get; init; }
    /// <summary>AdaRound's iterations, batch and sample sizes.</summary>
    public AdaRoundOptions AdaRoundOptions { get; init; } = new();
    /// <summary>Static mode: SmoothQuant's migration strength α in [0, 1] (null: off); calibrates twice.</summary>
    public double? SmoothQuantAlpha { get; init; }
    /// <summary>How static mode turns observed activations into ranges.</summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;
    /// <summary>Observer settings (bins, percentile).</summary>
    public ObserverOptions Observer { get; init; } = new();
    /// <summary>How many samples static mode calibrates on (at most the data set's size).</summary>
    public int CalibrationSamples { get; init; } = 1000;
    /// <summary>
    /// Embedding tables (Gathers from a float [rows, dim] initializer) stored as int8 with a scale per row, whatever
    /// the mode: a transformer's word embeddings are a large share of its parameters.
    /// </summary>
    public bool Embeddings { get; init; } = true;
    /// <summary>
    /// Linear (Gemm, MatMul by a weight) and Conv layers quantized; false quantizes only the embedding tables (with
    /// <see cref="Embeddings"/>): a transformer whose linear layers were pruned keeps them in float and still loses most
    /// of its file to int8 embeddings.
    /// </summary>
    public bool Layers { get; init; } = true;
    /// <summary>
    /// Bits of the embedding tables: 8 (int8, a scale per row) or 4 (two values a byte in a uint8 table, a scale per
    /// <see cref="EmbeddingBlockSize"/> columns of a row), unpacked after the gather by standard ONNX ops (opset 18).
    /// </summary>
    public int EmbeddingBits { get; init; } = 8;
    /// <summary>
    /// 4-bit embedding tables: one scale per this many consecutive columns of a row; a width it does not divide gets
    /// one scale per row.
    /// </summary>
    public int EmbeddingBlockSize { get; init; } = 32;
    /// <summary>Layers left in float: patterns ('*', '?') matched against weight names.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>
    /// Prepare for quantization-aware training: weights stay float and trainable behind a
    /// QuantizeLinear/DequantizeLinear pair (fake quantization with the straight-through estimator);
    /// <see cref="Quantizer.Convert"/> turns them into integers after fine-tuning.
    /// </summary>
    public bool KeepFloatWeights { get; init; }

    /// <summary>
    /// Accuracy-aware mode: the largest accepted accuracy loss (a fraction, 0.005 = half a point). Layers
    /// are left in float, most sensitive first, until the quantized model is within it. Null: off.
    /// </summary>
    public double? MaxAccuracyDrop { get; init; }

    /// <summary>
    /// Fidelity-aware mode for text models: the lowest accepted mean cosine to the float model's embeddings. Layers are
    /// left in float, most sensitive first, until it holds. Null: off.
    /// </summary>
    public double? MinCosine { get; init; }

    /// <summary>
    /// Whether the pass reads calibration data: static mode's observers, GPTQ's and AWQ's layer inputs, AdaRound's samples,
    /// bias correction's input sums and SmoothQuant's channel ranges (SmoothQuant needs static mode).
    /// </summary>
    public bool UsesCalibration => Mode == QuantizationMode.Static || Rounding != WeightRounding.Rtn || AdaRound || BiasCorrection
        || SmoothQuantAlpha is not null;

    /// <summary>Throws a one-line error for out-of-range options.</summary>
    public QuantizeOptions Validate()
    {
        if (WeightBits is < 2 or > 8) throw new CondenseException($"weight bits must be in 2..8, got {WeightBits}");
        if (BlockSize is int b)
        {
            // What ONNX Runtime's CPU MatMulNBits kernel accepts (1.31): block_size 16, 32, 64, 128 or 256.
            if (b < 16 || b > 256 || (b & (b - 1)) != 0) throw new CondenseException($"block size must be 16, 32, 64, 128 or 256, got {b}");
            if (Mode != QuantizationMode.WeightOnly)
                throw new CondenseException($"block-wise weight scales need weight-only mode (got {Mode.ToString().ToLowerInvariant()}); " +
                    "the integer engine takes one scale per output channel");
            if (KeepFloatWeights) throw new CondenseException("block-wise weight scales are not supported for quantization-aware training");
        }
        if (!Layers && !Embeddings) throw new CondenseException("nothing to quantize: neither the layers nor the embedding tables");
        if (EmbeddingBits is not (4 or 8)) throw new CondenseException($"embedding bits must be 4 or 8, got {EmbeddingBits}");
        if (EmbeddingBlockSize < 1) throw new CondenseException($"embedding block size must be positive, got {EmbeddingBlockSize}");
        if (Rounding != WeightRounding.Rtn && BlockSize is null)
            throw new CondenseException($"{Rounding.ToString().ToLowerInvariant()} rounds block-wise weights: it needs weight-only mode with a block size");
        if (SmoothQuantAlpha is double alpha && (Mode != QuantizationMode.Static || !(alpha >= 0 && alpha <= 1)))
            throw new CondenseException($"SmoothQuant needs static mode and an alpha in [0, 1] (got {Mode.ToString().ToLowerInvariant()}, {alpha})");
        if (AdaRound)
        {
            if (Rounding != WeightRounding.Rtn)
                throw new CondenseException($"AdaRound and {Rounding.ToString().ToLowerInvariant()} both choose the weights' rounding: use one");
            if (BlockSize is not null) throw new CondenseException("AdaRound rounds weights with one scale per output channel or per tensor, not block-wise");
            if (KeepFloatWeights) throw new CondenseException("AdaRound chooses integer weights; quantization-aware training keeps them float");
            AdaRoundOptions.Validate();
        }
        if (BiasCorrection && KeepFloatWeights)
            throw new CondenseException("bias correction needs integer weights; quantization-aware training keeps them float");
        if (BiasCorrection && Rounding == WeightRounding.Awq)
            throw new CondenseException("bias correction measures the shift of the float weight, which AWQ rescales: use one");
        if (MinCosine is double c && !(c > -1 && c <= 1)) throw new CondenseException($"minimum cosine must be in (-1, 1], got {c}");
        if (CalibrationSamples < 1) throw new CondenseException($"calibration samples must be positive, got {CalibrationSamples}");
        Observer.Validate();
        if (MaxAccuracyDrop is double d && !(d >= 0 && d <= 1)) throw new CondenseException($"maximum accuracy drop must be in [0, 1], got {d}");
        return this;
    }
}
