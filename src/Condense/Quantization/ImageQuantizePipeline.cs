// Post-training quantization of an image model measured on images: calibrated (static mode) on one set of images and
// measured on another — by accuracy when those are labelled and the model classifies, and always by fidelity of its
// outputs to the float model's (Reports/Fidelity; for a feature extractor such as ResNet-18's pooled features it is
// the only measure), with size and speed before and after (Inference/ImageEvaluation).
using System.Diagnostics;
using System.Text.Json.Serialization;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;

namespace Condense.Quantization;

/// <summary>The outcome of quantizing an image model. Its JSON (ReportJson) is what `condense quantize --images --json` prints.</summary>
/// <param name="Mode">Static, dynamic or weight-only.</param>
/// <param name="Bits">Weight bits.</param>
/// <param name="PerChannel">Whether weights have one scale per output channel.</param>
/// <param name="CalibrationImages">Images the activation ranges were calibrated on (0 in dynamic or weight-only mode).</param>
/// <param name="Before">The float model measured on the evaluation images.</param>
/// <param name="After">The quantized model measured on them, its fidelity to the float model's outputs included.</param>
/// <param name="Seconds">Time of the pass and its measurement.</param>
/// <param name="Layers">The quantized layers.</param>
/// <param name="FloatLayers">Weights left in float (excluded).</param>
public sealed record ImageQuantizeReport(
    [property: JsonIgnore] QuantizationMode Mode,
    [property: JsonPropertyOrder(1)] int Bits,
    [property: JsonPropertyOrder(2)] bool PerChannel,
    [property: JsonPropertyOrder(3)] int CalibrationImages,
    [property: JsonPropertyOrder(5)] ImageMetrics Before,
    [property: JsonPropertyOrder(6)] ImageMetrics After,
    [property: JsonPropertyOrder(7)] double Seconds,
    [property: JsonPropertyOrder(8)] IReadOnlyList<QuantizedLayer> Layers,
    [property: JsonPropertyOrder(9)] IReadOnlyList<string> FloatLayers)
{
    /// <summary>Images per model call (1 when the model's batch dimension is baked in).</summary>
    [JsonPropertyOrder(4)]
    public int BatchSize { get; init; }

    [JsonInclude, JsonPropertyName("mode"), JsonPropertyOrder(0)]
    internal string ModeName => Mode.ToString().ToLowerInvariant();
}

/// <summary>The quantization pass for image models.</summary>
public static class ImageQuantizePipeline
{
    /// <summary>
    /// Quantizes <paramref name="model"/>, calibrating on <paramref name="calibration"/> in static mode, and measures the
    /// float and quantized models on <paramref name="evaluation"/>, <paramref name="batchSize"/> images per call. The
    /// input model is not changed; the caller saves the result and fills in the file sizes.
    /// </summary>
    public static (GraphModule Model, ImageQuantizeReport Report) Apply(GraphModule model, Dataset calibration, Dataset evaluation,
        QuantizeOptions options, int batchSize = 8, IProgress<int>? progress = null)
    {
        options.Validate();
        if (options.MinCosine is not null || options.MaxAccuracyDrop is not null)
            throw new CondenseException("the fidelity- and accuracy-aware searches are not available for image models yet");
        if (evaluation.Count < 2) throw new CondenseException($"measuring fidelity needs at least 2 images, got {evaluation.Count}");
        if (model.Graph.Inputs.Count != 1) throw new CondenseException($"an image model has one input; this one has {model.Graph.Inputs.Count}");
        var clock = Stopwatch.StartNew();
        string input = model.Graph.Inputs[0].Name;
        var calibrationImages = calibration.Take(options.CalibrationSamples);
        var (quantized, layers) = Quantizer.Quantize(model, options, () => calibrationImages.Feeds(input, batchSize));
        var (before, reference) = ImageEvaluation.MeasureOutputs(model, null, evaluation, null, batchSize, timingSeconds: 0.3);
        var after = ImageEvaluation.MeasureOutputs(quantized, reference, evaluation, null, batchSize, progress, timingSeconds: 0.3).Metrics;
        var quantizedWeights = layers.Select(l => l.Weight).ToHashSet();
        var floatLayers = WeightLayers.Find(model).Where(t => !t.IsBias && !quantizedWeights.Contains(t.Name)).Select(t => t.Name).ToList();
        int calibrated = options.Mode == QuantizationMode.Static ? calibrationImages.Count : 0;
        var report = new ImageQuantizeReport(options.Mode, options.WeightBits, options.PerChannel, calibrated, before, after,
            clock.Elapsed.TotalSeconds, layers, floatLayers) { BatchSize = batchSize };
        return (quantized, report);
    }
}
