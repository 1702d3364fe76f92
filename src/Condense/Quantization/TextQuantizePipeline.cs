// Post-training quantization of a text encoder measured by fidelity instead of accuracy: the passages are split into
// calibration passages (the first half, unless given apart) and held-out passages; the model is quantized (calibrated on
// token batches of the calibration passages in static mode), and its sentence embeddings of the held-out passages are
// compared with the float model's (Reports/Fidelity), beside latency measured on the same run.
using System.Diagnostics;
using System.Text.Json.Serialization;
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Reports;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>The outcome of quantizing a text model. Its JSON (ReportJson) is what `condense quantize --text --json` prints.</summary>
public sealed record TextQuantizeReport(
    [property: JsonIgnore] QuantizationMode Mode,
    [property: JsonPropertyName("bits"), JsonPropertyOrder(1)] int WeightBits,
    [property: JsonPropertyOrder(2)] bool PerChannel,
    [property: JsonPropertyOrder(4)] int CalibrationPassages,
    [property: JsonPropertyOrder(5)] int EvaluationPassages,
    [property: JsonPropertyOrder(6)] double CosineMean,
    [property: JsonPropertyOrder(7)] double CosineMin,
    [property: JsonPropertyName("top10_overlap"), JsonPropertyOrder(8)] double TopKOverlap,
    [property: JsonPropertyOrder(9)] double Spearman,
    [property: JsonPropertyName("latency_ms_batch1_before"), JsonPropertyOrder(13)] double LatencyMsBefore,
    [property: JsonPropertyName("latency_ms_batch1"), JsonPropertyOrder(12)] double LatencyMsAfter,
    [property: JsonPropertyOrder(14)] double Seconds,
    [property: JsonPropertyOrder(16)] IReadOnlyList<QuantizedLayer> Layers,
    [property: JsonPropertyOrder(17)] IReadOnlyList<string> FloatLayers)
{
    /// <summary>Fidelity-aware mode: whether the minimum cosine was reached (null: not asked).</summary>
    [JsonPropertyOrder(18)]
    public bool? TargetMet { get; init; }

    /// <summary>A causal language model's perplexity and next-token fidelity to the float model on the held-out passages, else null.</summary>
    [JsonPropertyOrder(10)]
    public LanguageModelMetrics? LanguageModel { get; init; }

    /// <summary>Weight-only mode's block size, or null.</summary>
    [JsonPropertyOrder(3)]
    public int? BlockSize { get; init; }

    /// <summary>Size of the saved quantized file (set by the caller that saves).</summary>
    [JsonPropertyName("file_bytes"), JsonPropertyOrder(10)]
    public long FileBytesAfter { get; init; }

    /// <summary>Size of the float model's file.</summary>
    [JsonPropertyOrder(11)]
    public long FileBytesBefore { get; init; }

    /// <summary>How many times smaller the file became.</summary>
    [JsonPropertyOrder(15)]
    public double CompressionRatio => FileBytesAfter == 0 ? 0 : (double)FileBytesBefore / FileBytesAfter;

    [JsonInclude, JsonPropertyName("mode"), JsonPropertyOrder(0)]
    internal string ModeName => Mode.ToString().ToLowerInvariant();
}

/// <summary>The quantization pass for text encoders.</summary>
public static class TextQuantizePipeline
{
    /// <summary>
    /// Quantizes <paramref name="model"/>, calibrating on <paramref name="calibration"/> (static mode), and measures the
    /// fidelity of its embeddings of <paramref name="evaluation"/> to the float model's. The input model is not changed.
    /// </summary>
    public static (GraphModule Model, TextQuantizeReport Report) Apply(GraphModule model, TextTokenizer tokenizer,
        IReadOnlyList<string> calibration, IReadOnlyList<string> evaluation, QuantizeOptions options, EmbeddingOptions embedding,
        IProgress<int>? progress = null)
    {
        options.Validate();
        if (calibration.Count == 0 || evaluation.Count < 2)
            throw new CondenseException(
                $"text quantization needs calibration passages and at least 2 to evaluate on (got {calibration.Count} and {evaluation.Count})");
        var clock = Stopwatch.StartNew();
        var reference = new SentenceEmbedder(model, tokenizer, embedding).Embed(evaluation);
        var (quantized, layers) = Quantizer.Quantize(model, options with { MinCosine = null }, () => Feeds(model, tokenizer, calibration, embedding));
        var ours = new SentenceEmbedder(quantized, tokenizer, embedding).Embed(evaluation, progress);
        var fidelity = Fidelity.Measure(ours, reference);
        bool? met = null;
        if (options.MinCosine is double target)
        {
            met = fidelity.CosineMean >= target;
            if (met == false) (quantized, layers, fidelity, met) = KeepSensitiveLayersInFloat(model, tokenizer, calibration, evaluation, reference,
                options, embedding, target, (quantized, layers, fidelity));
        }
        var quantizedWeights = layers.Select(l => l.Weight).ToHashSet();
        var floatLayers = model.Graph.Nodes
            .Where(n => n.OpType is OpTypes.Gemm or OpTypes.MatMul or OpTypes.Conv && n.Inputs.Count > 1
                && model.Graph.Initializers.ContainsKey(n.Inputs[1]) && !quantizedWeights.Contains(n.Inputs[1]))
            .Select(n => n.Inputs[1]).ToList();
        double seconds = clock.Elapsed.TotalSeconds;
        double before = TextEvaluation.Latency(model, tokenizer, evaluation[0], embedding.MaxLength, 0.2);
        double after = TextEvaluation.Latency(quantized, tokenizer, evaluation[0], embedding.MaxLength, 0.2);
        var report = new TextQuantizeReport(options.Mode, options.WeightBits, options.PerChannel, calibration.Count, evaluation.Count,
            fidelity.CosineMean, fidelity.CosineMin, fidelity.TopKOverlap, fidelity.Spearman, before, after, seconds, layers, floatLayers)
        {
            BlockSize = options.BlockSize, TargetMet = met,
            LanguageModel = LanguageModelEvaluation.Measure(quantized, model, tokenizer, evaluation, embedding.MaxLength),
        };
        return (quantized, report);
    }

    // Fidelity-aware mode: each quantized layer's sensitivity is the cosine lost with it quantized alone (on up to 32
    // held-out passages); layers then go back to float, most sensitive first, until the mean cosine on all held-out
    // passages reaches the target. Returns the first model that does, or the most faithful one seen.
    private static (GraphModule, IReadOnlyList<QuantizedLayer>, Fidelity, bool) KeepSensitiveLayersInFloat(GraphModule model, TextTokenizer tokenizer,
        IReadOnlyList<string> calibration, IReadOnlyList<string> evaluation, float[][] reference, QuantizeOptions options, EmbeddingOptions embedding,
        double target, (GraphModule Model, IReadOnlyList<QuantizedLayer> Layers, Fidelity Fidelity) best)
    {
        var probe = evaluation.Take(32).ToList();
        var probeReference = reference.Take(probe.Count).ToArray();
        var weights = best.Layers.Select(l => l.Weight).ToList();
        IEnumerable<IReadOnlyDictionary<string, Tensor>> Calibration() => Feeds(model, tokenizer, calibration, embedding);
        var sensitivity = weights.ToDictionary(w => w, w =>
        {
            var alone = options with { Exclude = [.. options.Exclude, .. weights.Where(o => o != w).Select(Literal)], MinCosine = null };
            var embedded = new SentenceEmbedder(Quantizer.Quantize(model, alone, Calibration).Model, tokenizer, embedding).Embed(probe);
            return 1 - Enumerable.Range(0, probe.Count).Average(i => Fidelity.Cosine(embedded[i], probeReference[i]));
        });
        var excluded = new List<string>(options.Exclude);
        foreach (var w in weights.OrderByDescending(w => sensitivity[w]).Take(weights.Count - 1))
        {
            excluded.Add(Literal(w));
            var (candidate, layers) = Quantizer.Quantize(model, options with { Exclude = [.. excluded], MinCosine = null }, Calibration);
            var fidelity = Fidelity.Measure(new SentenceEmbedder(candidate, tokenizer, embedding).Embed(evaluation), reference);
            if (fidelity.CosineMean > best.Fidelity.CosineMean) best = (candidate, layers, fidelity);
            if (fidelity.CosineMean >= target) return (candidate, layers, fidelity, true);
        }
        return (best.Model, best.Layers, best.Fidelity, false);
    }

    // A weight name as an exclusion pattern: '*' is the pattern's wildcard, so a '*' in a name is matched by '?' (one character).
    private static string Literal(string name) => name.Replace('*', '?');

    private static IEnumerable<IReadOnlyDictionary<string, Tensor>> Feeds(GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        EmbeddingOptions embedding) => tokenizer.CalibrationFeeds(TextFeeds.Inputs(model.Graph), passages, embedding.MaxLength);
}
