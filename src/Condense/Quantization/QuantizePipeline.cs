// A whole post-training quantization run, as the CLI's `quantize` command does it: measure the float
// model, quantize (calibrating on the training data in static mode), measure the quantized model,
// save it and report per-layer scales, accuracy, size and the compression ratio.
using Condense.Formats;
using System.Diagnostics;
using Condense.Inference;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Training;

namespace Condense.Quantization;

/// <summary>The outcome of a quantization run.</summary>
public sealed record QuantizeReport(
    QuantizationMode Mode, int WeightBits, bool PerChannel, string Calibration,
    IReadOnlyList<QuantizedLayer> Layers, IReadOnlyList<string> FloatLayers,
    float AccuracyBefore, float AccuracyAfter, long FileBytesBefore, long FileBytesAfter, double Seconds,
    bool? TargetMet = null, IReadOnlyList<LayerSensitivity>? Sensitivities = null,
    double LatencyMsBefore = 0, double LatencyMsAfter = 0, string Engine = "float", int FoldedBatchNorms = 0)
{
    /// <summary>How many times smaller the file became.</summary>
    public double CompressionRatio => FileBytesAfter == 0 ? 0 : (double)FileBytesBefore / FileBytesAfter;
}

/// <summary>The accuracy of the model with one layer quantized alone.</summary>
public sealed record LayerSensitivity(string Weight, float Accuracy, float Drop);

/// <summary>Runs post-training quantization end to end.</summary>
public static class QuantizePipeline
{
    /// <summary>
    /// Quantizes <paramref name="model"/> (calibrating on <paramref name="calibration"/>), evaluates on
    /// <paramref name="test"/>, saves to <paramref name="output"/> if given (an .onnx file in <paramref name="format"/>), and reports.
    /// </summary>
    public static (GraphModule Model, QuantizeReport Report) Run(GraphModule model, Dataset calibration, Dataset test,
        QuantizeOptions options, string? output = null, long fileBytesBefore = 0, QuantizedOnnxFormat format = QuantizedOnnxFormat.Qdq)
    {
        QuantizedWeights.ThrowIfQuantized(model.Graph);   // before measuring: say so at once
        var watch = Stopwatch.StartNew();
        float before = Evaluator.Evaluate(model, test).Accuracy;
        // Batch norm is folded into the layer before it first, so the quantized weights are the folded ones.
        var (folded, folding) = BatchNormFolding.Fold(model);
        if (folding.Folded.Count > 0) model = folded;
        var (quantized, layers) = Quantizer.Quantize(model, calibration, options);
        // Measured on what will run it: the integer engine where the graph compiles to it (compiled once, timed below too).
        var engine = InferenceEngine.Compile(quantized);
        float after = Evaluator.Evaluate(engine.Runner, test).Accuracy;
        bool? met = null;
        List<LayerSensitivity>? sensitivities = null;
        if (options.MaxAccuracyDrop is double maxDrop)
        {
            met = before - after <= maxDrop;
            if (met == false)
                (quantized, layers, engine, after, met, sensitivities) =
                    KeepSensitiveLayersInFloat(model, calibration, test, options, before, maxDrop, quantized, layers, engine, after);
        }
        long bytes = 0;
        if (output is not null)
        {
            ModelFile.Save(quantized.Graph, output, format);
            bytes = new FileInfo(output).Length;
        }
        var quantizedWeights = layers.Select(l => l.Weight).ToHashSet();
        var floatLayers = model.Graph.Nodes.Where(n => n.OpType is "Gemm" or "MatMul" or "Conv" && !quantizedWeights.Contains(n.Inputs[1]))
            .Select(n => n.Inputs[1]).ToList();
        string calibrationName = options.Mode == QuantizationMode.Static ? options.Calibration.ToString() : "none";
        // Batch-1 latency of the float model and of what runs the quantized one, measured in the same run.
        var runner = engine.Runner;
        int[] sample = test.SampleShape;
        double latencyBefore = Evaluator.MeasureSpeed(model, sample, 1, 0.2).MedianMilliseconds;
        double latencyAfter = Evaluator.MeasureSpeed(runner, sample, 1, 0.2).MedianMilliseconds;
        return (quantized, new QuantizeReport(options.Mode, options.WeightBits, options.PerChannel, calibrationName, layers, floatLayers,
            before, after, fileBytesBefore, bytes, watch.Elapsed.TotalSeconds, met, sensitivities,
            latencyBefore, latencyAfter, engine.IsInteger ? "integer" : "float simulation", folding.Folded.Count));
    }

    // Accuracy-aware mode: quantize each layer alone to measure its sensitivity, then leave layers in
    // float, most sensitive first, until the drop is within budget. Keeps the best model seen: the first
    // that meets the target (most layers quantized), else the most accurate.
    private static (GraphModule, IReadOnlyList<QuantizedLayer>, CompiledModel, float, bool, List<LayerSensitivity>) KeepSensitiveLayersInFloat(
        GraphModule model, Dataset calibration, Dataset test, QuantizeOptions options, float before, double maxDrop,
        GraphModule quantized, IReadOnlyList<QuantizedLayer> layers, CompiledModel engine, float after)
    {
        var weights = layers.Select(l => l.Weight).ToList();
        var sensitivities = weights.Select(w =>
        {
            var alone = options with { Exclude = [.. options.Exclude, .. weights.Where(o => o != w)], MaxAccuracyDrop = null };
            float accuracy = Evaluator.Evaluate(Quantizer.Quantize(model, calibration, alone).Model, test).Accuracy;
            return new LayerSensitivity(w, accuracy, before - accuracy);
        }).OrderByDescending(s => s.Drop).ToList();

        var best = (Model: quantized, Layers: layers, Engine: engine, Accuracy: after);
        var excluded = new List<string>(options.Exclude);
        foreach (var s in sensitivities.Take(sensitivities.Count - 1)) // at least one layer stays quantized
        {
            excluded.Add(s.Weight);
            var (candidate, candidateLayers) = Quantizer.Quantize(model, calibration, options with { Exclude = excluded.ToList(), MaxAccuracyDrop = null });
            var candidateEngine = InferenceEngine.Compile(candidate);
            float accuracy = Evaluator.Evaluate(candidateEngine.Runner, test).Accuracy;
            if (before - accuracy <= maxDrop) return (candidate, candidateLayers, candidateEngine, accuracy, true, sensitivities);
            if (accuracy > best.Accuracy) best = (candidate, candidateLayers, candidateEngine, accuracy);
        }
        return (best.Model, best.Layers, best.Engine, best.Accuracy, false, sensitivities);
    }
}
