// The post-training quantization pass: measure the float model, quantize (calibrating on sample data
// in static mode), measure the quantized model on what will run it, and report per-layer scales,
// accuracy and latency (through the shared CompressionRun). The caller saves the model (in the ONNX
// form it chooses) and fills in the file sizes, from which the compression ratio follows.
using System.Text.Json.Serialization;
using Condense.Inference;
using Condense.Data;
using Condense.Distributed;
using Condense.Graph;
using Condense.Training;

namespace Condense.Quantization;

/// <summary>
/// The outcome of a quantization run. The pass leaves the file sizes at 0; the caller that saves sets them.
/// Its JSON (ReportJson) is what `condense quantize --json` prints.
/// </summary>
public sealed record QuantizeReport(
    [property: JsonIgnore] QuantizationMode Mode,
    [property: JsonPropertyName("bits"), JsonPropertyOrder(1)] int WeightBits,
    [property: JsonPropertyOrder(2)] bool PerChannel,
    [property: JsonPropertyOrder(4)] string Calibration,
    [property: JsonPropertyOrder(16)] IReadOnlyList<QuantizedLayer> Layers,
    [property: JsonPropertyOrder(17)] IReadOnlyList<string> FloatLayers,
    [property: JsonPropertyOrder(6)] float AccuracyBefore,
    [property: JsonPropertyName("accuracy"), JsonPropertyOrder(5)] float AccuracyAfter,
    [property: JsonPropertyOrder(8)] long FileBytesBefore,
    [property: JsonPropertyName("file_bytes"), JsonPropertyOrder(7)] long FileBytesAfter,
    [property: JsonPropertyOrder(15)] double Seconds,
    [property: JsonPropertyOrder(18)] bool? TargetMet = null,
    [property: JsonPropertyOrder(19)] IReadOnlyList<LayerSensitivity>? Sensitivities = null,
    [property: JsonPropertyName("latency_ms_batch1_before"), JsonPropertyOrder(11)] double LatencyMsBefore = 0,
    [property: JsonPropertyName("latency_ms_batch1"), JsonPropertyOrder(10)] double LatencyMsAfter = 0,
    [property: JsonPropertyOrder(12)] string Engine = "float",
    [property: JsonPropertyOrder(13)] int FoldedBatchNorms = 0)
{
    /// <summary>Weight-only mode's block size (one weight scale per this many input features), or null.</summary>
    [JsonPropertyOrder(3)]
    public int? BlockSize { get; init; }

    /// <summary>How many times smaller the file became.</summary>
    [JsonPropertyOrder(9)]
    public double CompressionRatio => FileBytesAfter == 0 ? 0 : (double)FileBytesBefore / FileBytesAfter;

    // The mode as the command line spells it: static, dynamic, weightonly.
    [JsonInclude, JsonPropertyName("mode"), JsonPropertyOrder(0)]
    internal string ModeName => Mode.ToString().ToLowerInvariant();
}

/// <summary>The accuracy of the model with one layer quantized alone.</summary>
public sealed record LayerSensitivity(string Weight, float Accuracy, float Drop);

/// <summary>The post-training quantization pass.</summary>
public static class QuantizePipeline
{
    /// <summary>
    /// Quantizes <paramref name="model"/> (calibrating on <paramref name="calibration"/>; batch norm folded first) and evaluates
    /// the float and the quantized model on <paramref name="test"/>. The input model is not changed.
    /// </summary>
    public static (GraphModule Model, QuantizeReport Report) Apply(GraphModule model, Dataset calibration, Dataset test, QuantizeOptions options)
    {
        options.Validate();
        QuantizedWeights.ThrowIfQuantized(model.Graph);   // before measuring: say so at once
        var (quantized, pass, measures) = CompressionRun.Run(model, test, (m, before) => Quantize(m, calibration, test, options, before));
        var quantizedWeights = pass.Layers.Select(l => l.Weight).ToHashSet();
        var floatLayers = pass.Float.Graph.Nodes
            .Where(n => n.OpType is OpTypes.Gemm or OpTypes.MatMul or OpTypes.Conv && !quantizedWeights.Contains(n.Inputs[1]))
            .Select(n => n.Inputs[1]).ToList();
        string calibrationName = options.Mode == QuantizationMode.Static ? options.Calibration.ToString() : "none";
        // Batch-1 latency of the float model and of what runs the quantized one, measured in the same run.
        var runner = pass.Engine.Runner;   // compiled once, in the pass
        int[] sample = test.SampleShape;
        double latencyBefore = Evaluator.MeasureSpeed(pass.Float, sample, 1, 0.2).MedianMilliseconds;
        double latencyAfter = Evaluator.MeasureSpeed(runner, sample, 1, 0.2).MedianMilliseconds;
        string engine = pass.Engine.IsInteger ? "integer" : "float simulation";
        var report = new QuantizeReport(options.Mode, options.WeightBits, options.PerChannel, calibrationName, pass.Layers, floatLayers,
            measures.AccuracyBefore, measures.AccuracyAfterPass, 0, 0, measures.Seconds, pass.TargetMet, pass.Sensitivities,
            latencyBefore, latencyAfter, engine, pass.FoldedBatchNorms) { BlockSize = options.BlockSize };
        return (quantized, report);
    }

    // The float model the quantized one came from (batch norm folded), and what the report says about the quantization.
    private sealed record PassState(GraphModule Float, IReadOnlyList<QuantizedLayer> Layers, int FoldedBatchNorms, bool? TargetMet,
        List<LayerSensitivity>? Sensitivities, CompiledModel Engine);

    private static PassStep<GraphModule, PassState> Quantize(GraphModule model, Dataset calibration, Dataset test, QuantizeOptions options, float before)
    {
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
        return new(quantized, new PassState(model, layers, folding.Folded.Count, met, sensitivities, engine), after);
    }

    // Accuracy-aware mode: quantize each layer alone to measure its sensitivity, then leave layers in
    // float, most sensitive first, until the drop is within budget. Keeps the best model seen: the first
    // that meets the target (most layers quantized), else the most accurate.
    private static (GraphModule, IReadOnlyList<QuantizedLayer>, CompiledModel, float, bool, List<LayerSensitivity>) KeepSensitiveLayersInFloat(
        GraphModule model, Dataset calibration, Dataset test, QuantizeOptions options, float before, double maxDrop,
        GraphModule quantized, IReadOnlyList<QuantizedLayer> layers, CompiledModel engine, float after)
    {
        // Under mpirun the layers are handed out, each measured whole by one rank, and the accuracies summed into place.
        var weights = layers.Select(l => l.Weight).ToList();
        var world = World.Current;
        var measured = new double[weights.Count];
        for (int i = 0; i < weights.Count; i++)
        {
            if (!world.Owns(i)) continue;
            var alone = options with { Exclude = [.. options.Exclude, .. weights.Where(o => o != weights[i])], MaxAccuracyDrop = null };
            using (World.Alone()) measured[i] = Evaluator.Evaluate(Quantizer.Quantize(model, calibration, alone).Model, test).Accuracy;
        }
        world.AllReduce(measured);
        var sensitivities = weights.Select((w, i) => new LayerSensitivity(w, (float)measured[i], before - (float)measured[i]))
            .OrderByDescending(s => s.Drop).ToList();

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
