// One-shot pruning of a text encoder measured by fidelity: the weights chosen by the options are zeroed (Wanda and
// SparseGPT score them on calibration passages, SparseGPT also updates the weights it keeps), and the pruned model's
// sentence embeddings of the passages are compared with the original's (Reports/Fidelity), as the quantization pass does
// for text. Fine-tuning without labels, by distillation from the original with the masks held, is Distillation's.
using System.Diagnostics;
using System.Text.Json.Serialization;
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Reports;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>The outcome of pruning a text model. Its JSON (ReportJson) is what `condense prune --text --json` prints.</summary>
public sealed record TextPruneReport(
    [property: JsonPropertyOrder(0)] string Method,
    [property: JsonPropertyOrder(1)] string Score,
    [property: JsonPropertyOrder(1)] double Sparsity,
    [property: JsonPropertyOrder(2)] int EvaluationPassages,
    [property: JsonPropertyOrder(3)] double CosineMean,
    [property: JsonPropertyOrder(4)] double CosineMin,
    [property: JsonPropertyName("top10_overlap"), JsonPropertyOrder(5)] double TopKOverlap,
    [property: JsonPropertyOrder(6)] double Spearman,
    [property: JsonPropertyOrder(7)] long Parameters,
    [property: JsonPropertyOrder(8)] long NonzeroParameters,
    [property: JsonPropertyOrder(11)] double Seconds)
{
    /// <summary>Size of the saved pruned file (set by the caller that saves).</summary>
    [JsonPropertyName("file_bytes"), JsonPropertyOrder(9)]
    public long FileBytesAfter { get; init; }

    /// <summary>Size of the original model's file.</summary>
    [JsonPropertyOrder(10)]
    public long FileBytesBefore { get; init; }

    /// <summary>Passages the scores calibrated on (0 for magnitude).</summary>
    [JsonPropertyOrder(2)]
    public int CalibrationPassages { get; init; }

    /// <summary>Epochs of fine-tuning by distillation from the original with the masks held (0: one shot).</summary>
    [JsonPropertyOrder(12)]
    public int FinetuneEpochs { get; init; }

    /// <summary>Fidelity after that fine-tuning; null for one shot (the figures above are before it).</summary>
    [JsonPropertyOrder(13)]
    public TextFidelity? AfterFinetune { get; init; }
}

/// <summary>The pruning pass for text encoders.</summary>
public static class TextPrunePipeline
{
    /// <summary>
    /// Prunes a copy of <paramref name="model"/> with <paramref name="options"/> (scores that need data calibrate on
    /// <paramref name="calibration"/>, one passage per call) and measures the fidelity of its embeddings of
    /// <paramref name="passages"/> to the original's. The input model is not changed.
    /// </summary>
    public static (GraphModule Model, TextPruneReport Report) Apply(GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        PruneOptions options, EmbeddingOptions embedding, IProgress<int>? progress = null, IReadOnlyList<string>? calibration = null)
    {
        options.Validate();
        if (passages.Count < 2) throw new CondenseException($"measuring fidelity needs at least 2 passages, got {passages.Count}");
        var clock = Stopwatch.StartNew();
        var pruned = new GraphModule(model.Graph.Clone());
        var masks = Pruner.Prune(pruned, options, Calibration(pruned, tokenizer, calibration, embedding.MaxLength));
        if (masks.Entries.Count == 0) throw new CondenseException("no weight to prune: all were excluded or the model has no Linear or Conv layer");
        var reference = new SentenceEmbedder(model, tokenizer, embedding).Embed(passages);
        var ours = new SentenceEmbedder(pruned, tokenizer, embedding).Embed(passages, progress);
        var fidelity = Fidelity.Measure(ours, reference);
        var summary = ModelSummary.Of(pruned);
        var report = new TextPruneReport(options.Method.ToString().ToLowerInvariant(), options.Score.ToString().ToLowerInvariant(),
            summary.Sparsity, passages.Count, fidelity.CosineMean,
            fidelity.CosineMin, fidelity.TopKOverlap, fidelity.Spearman, summary.Parameters, summary.NonzeroParameters, clock.Elapsed.TotalSeconds)
        {
            CalibrationPassages = options.Score == PruneScore.Magnitude ? 0 : calibration?.Count ?? 0,
        };
        return (pruned, report);
    }

    /// <summary>Calibration feeds for Pruner from passages (one per call), or null when there are none.</summary>
    public static Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? Calibration(GraphModule model, TextTokenizer tokenizer,
        IReadOnlyList<string>? passages, int maxLength) =>
        passages is null ? null : () => tokenizer.CalibrationFeeds([.. model.Graph.Inputs.Select(i => i.Name)], passages, maxLength);
}
