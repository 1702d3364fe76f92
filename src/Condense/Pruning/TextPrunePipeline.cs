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

    /// <summary>A causal language model's perplexity and next-token fidelity to the original on the passages, else null.</summary>
    [JsonPropertyOrder(7)]
    public LanguageModelMetrics? LanguageModel { get; init; }

    /// <summary>The same figures after fine-tuning, else null.</summary>
    [JsonPropertyOrder(13)]
    public LanguageModelMetrics? AfterFinetuneLanguageModel { get; init; }

    /// <summary>A causal language model's output head, left dense (<see cref="TextPrunePipeline.DenseOutputHead"/>); null otherwise.</summary>
    [JsonPropertyOrder(14)]
    public string? DenseOutputHead { get; init; }

    /// <summary>How the sparsity was spread: "uniform" or "sensitivity".</summary>
    [JsonPropertyOrder(1)]
    public string Allocation { get; init; } = "uniform";

    /// <summary>Every pruned tensor: parameters and non-zeros before and after.</summary>
    [JsonPropertyOrder(14)]
    public IReadOnlyList<PrunedTensor> Tensors { get; init; } = [];
}

/// <summary>The pruning pass for text encoders.</summary>
public static class TextPrunePipeline
{
    /// <summary>
    /// Prunes a copy of <paramref name="model"/> with <paramref name="options"/> (scores that need data calibrate on
    /// <paramref name="calibration"/>, one passage per call) and measures the fidelity of its embeddings of
    /// <paramref name="passages"/> to the original's. The input model is not changed.
    /// </summary>
    /// <remarks>
    /// With <see cref="SparsityAllocation.Sensitivity"/>, each tensor is first measured pruned alone by the sentence embeddings
    /// of the first <see cref="PruneOptions.SensitivitySamples"/> calibration passages (<see cref="EmbeddingLoss"/>), and
    /// <paramref name="sweepProgress"/> reports those measurements.
    /// </remarks>
    public static (GraphModule Model, TextPruneReport Report) Apply(GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        PruneOptions options, EmbeddingOptions embedding, IProgress<int>? progress = null, IReadOnlyList<string>? calibration = null,
        IProgress<(int Done, int Total)>? sweepProgress = null)
    {
        options.Validate();
        if (passages.Count < 2) throw new CondenseException($"measuring fidelity needs at least 2 passages, got {passages.Count}");
        var clock = Stopwatch.StartNew();
        var pruned = new GraphModule(model.Graph.Clone());
        string? head = DenseOutputHead(model, tokenizer, options);
        var masks = PruneAll(pruned, tokenizer, Keeping(options, head), calibration, embedding, sweepProgress);
        if (masks.Entries.Count == 0) throw new CondenseException("no weight to prune: all were excluded or the model has no Linear or Conv layer");
        var reference = new SentenceEmbedder(model, tokenizer, embedding).Embed(passages);
        var ours = new SentenceEmbedder(pruned, tokenizer, embedding).Embed(passages, progress);
        var fidelity = Fidelity.Measure(ours, reference);
        var summary = ModelSummary.Of(pruned);
        var report = new TextPruneReport(options.Method.ToString().ToLowerInvariant(), options.Score.ToString().ToLowerInvariant(),
            summary.Sparsity, passages.Count, fidelity.CosineMean,
            fidelity.CosineMin, fidelity.TopKOverlap, fidelity.Spearman, summary.Parameters, summary.NonzeroParameters, clock.Elapsed.TotalSeconds)
        {
            CalibrationPassages = options.Score == PruneScore.Magnitude && options.Allocation == SparsityAllocation.Uniform ? 0 : calibration?.Count ?? 0,
            Allocation = options.Allocation.ToString().ToLowerInvariant(),
            Tensors = [.. masks.Entries.Select(e => PrunedTensor.Of(model, e.Target))],
            LanguageModel = LanguageModelEvaluation.Measure(pruned, model, tokenizer, passages, embedding.MaxLength),
            DenseOutputHead = head,
        };
        return (pruned, report);
    }

    /// <summary>
    /// Prunes <paramref name="model"/> in place with <paramref name="options"/>, calibrating on <paramref name="calibration"/>;
    /// a sensitivity allocation is measured on the sentence embeddings (<see cref="EmbeddingLoss"/>).
    /// </summary>
    /// <remarks>
    /// A causal language model's output head is left dense unless <see cref="PruneOptions.Include"/> names it
    /// (<see cref="DenseOutputHead"/>).
    /// </remarks>
    public static MaskSet Prune(GraphModule model, TextTokenizer tokenizer, PruneOptions options, IReadOnlyList<string>? calibration,
        EmbeddingOptions embedding, IProgress<(int Done, int Total)>? sweepProgress = null) =>
        PruneAll(model, tokenizer, Keeping(options, DenseOutputHead(model, tokenizer, options)), calibration, embedding, sweepProgress);

    /// <summary>
    /// The weight of a causal language model's output head — the layer computing its next-token logits — which pruning
    /// leaves dense, as SparseGPT (Frantar &amp; Alistarh 2023) and Wanda (Sun et al. 2023) do: its rows are the vocabulary's,
    /// and in a small model it holds most of the weights. Null for other models, or when <see cref="PruneOptions.Include"/>
    /// names the head.
    /// </summary>
    public static string? DenseOutputHead(GraphModule model, TextTokenizer tokenizer, PruneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (LanguageModelEvaluation.LogitsOutput(model, tokenizer) is not { } logits) return null;
        if (WeightLayers.Producing(model, logits) is not { } head) return null;
        return options.Include.Any(p => WeightLayers.Pattern(p).IsMatch(head.Name)) ? null : head.Name;
    }

    private static PruneOptions Keeping(PruneOptions options, string? head) =>
        head is null ? options : options with { Exclude = [.. options.Exclude, head] };

    private static MaskSet PruneAll(GraphModule model, TextTokenizer tokenizer, PruneOptions options, IReadOnlyList<string>? calibration,
        EmbeddingOptions embedding, IProgress<(int Done, int Total)>? sweepProgress)
    {
        var loss = options.Allocation == SparsityAllocation.Sensitivity && calibration is { Count: > 0 }
            ? EmbeddingLoss(model, tokenizer, [.. calibration.Take(options.SensitivitySamples)], embedding)
            : null;
        return Pruner.Prune(model, options, Calibration(model, tokenizer, calibration, embedding.MaxLength), loss, sweepProgress);
    }

    /// <summary>
    /// 1 − the mean cosine between a model's sentence embeddings of <paramref name="passages"/> and <paramref name="model"/>'s
    /// as it is now: the loss a sensitivity allocation of a text encoder is measured by. For a causal language model, the
    /// mean KL divergence of its next-token distributions from those of <paramref name="model"/> as it is now.
    /// </summary>
    public static Func<GraphModule, double> EmbeddingLoss(GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        EmbeddingOptions embedding)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        if (LanguageModelEvaluation.LogitsOutput(model, tokenizer) is not null)
        {
            // Next-token distributions are too large to keep for every passage: a copy of the model computes them again.
            var original = new GraphModule(model.Graph.Clone());
            return m => LanguageModelEvaluation.Measure(m, original, tokenizer, passages, embedding.MaxLength)!.KlToReference!.Value;
        }
        var reference = new SentenceEmbedder(model, tokenizer, embedding).Embed(passages);
        return m => 1 - new SentenceEmbedder(m, tokenizer, embedding).Embed(passages).Select((e, i) => Fidelity.Cosine(e, reference[i])).Average();
    }

    /// <summary>Calibration feeds for Pruner from passages (one per call), or null when there are none.</summary>
    public static Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? Calibration(GraphModule model, TextTokenizer tokenizer,
        IReadOnlyList<string>? passages, int maxLength) =>
        passages is null ? null : () => tokenizer.CalibrationFeeds(TextFeeds.Inputs(model.Graph), passages, maxLength);
}
