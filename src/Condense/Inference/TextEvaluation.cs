// The figures of a text model when there are no labels: fidelity of its sentence embeddings to a reference model's
// on the same passages (Reports/Fidelity); for a causal language model, whose text is its own labels, perplexity and
// next-token fidelity to the reference (LanguageModelEvaluation); its size, batch-1 latency on a real passage and batch-32 throughput at
// the maximum length (passages padded to it), measured, as ModelMetrics does for labelled data. Timing runs the model as
// InferenceEngine.Compile runs it (fused float ops, dynamic int8 engine), as embedding does.
using Condense.Data.Text;
using Condense.Graph;
using Condense.Reports;

namespace Condense.Inference;

/// <summary>Measured fidelity, size and speed of a text model. JSON names are the CLI's documented keys.</summary>
/// <param name="Fidelity">Fidelity of its embeddings to the reference's; null without a reference.</param>
/// <param name="Parameters">Parameter count.</param>
/// <param name="FileBytes">Size of its file on disk (0 when not saved).</param>
/// <param name="LatencyMsBatch1">Median milliseconds to embed one passage.</param>
/// <param name="ThroughputBatch32">Passages per second in batches of 32 at the maximum length.</param>
public sealed record TextMetrics(Fidelity? Fidelity, long Parameters, long FileBytes, double LatencyMsBatch1, double ThroughputBatch32)
{
    /// <summary>Perplexity (and next-token fidelity to the reference) when the model is a causal language model, else null.</summary>
    public LanguageModelMetrics? LanguageModel { get; init; }
}

/// <summary>Measures a text model against a reference.</summary>
public static class TextEvaluation
{
    /// <summary>
    /// Embeds <paramref name="passages"/> with <paramref name="model"/> and <paramref name="reference"/> (when given) and
    /// compares them, measures a causal language model's perplexity (against the reference's), and times the model;
    /// <paramref name="file"/> is its saved form (or null).
    /// </summary>
    /// <exception cref="CondenseException">No reference, and the model is not a causal language model.</exception>
    public static TextMetrics Measure(GraphModule model, GraphModule? reference, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        EmbeddingOptions options, string? file, IProgress<int>? progress = null, double timingSeconds = 0.5)
    {
        ArgumentNullException.ThrowIfNull(options);
        var language = LanguageModelEvaluation.Measure(model, reference, tokenizer, passages, options.MaxLength, reference is null ? progress : null);
        if (reference is null && language is null)
            throw new CondenseException("the model is not a causal language model, so its text has no labels: give a reference model to compare with");
        Fidelity? fidelity = null;
        if (reference is not null)
        {
            var ours = new SentenceEmbedder(model, tokenizer, options).Embed(passages, progress);
            fidelity = Fidelity.Measure(ours, new SentenceEmbedder(reference, tokenizer, options).Embed(passages));
        }
        var (latency, throughput) = Speed(model, tokenizer, passages, options.MaxLength, timingSeconds);
        return new TextMetrics(fidelity, ModelSummary.Of(model).Parameters, file is null ? 0 : ModelMetrics.SizeOnDisk(file), latency, throughput)
            { LanguageModel = language };
    }

    /// <summary>Median batch-1 milliseconds on the first passage, and passages per second in batches of 32 padded to <paramref name="maxLength"/>.</summary>
    public static (double LatencyMs, double PassagesPerSecond) Speed(GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        int maxLength, double timingSeconds = 0.5)
    {
        model = InferenceEngine.GraphRunner(model);
        var full = tokenizer.Batch([.. Enumerable.Range(0, 32).Select(i => passages[i % passages.Count])], maxLength, padTo: maxLength).Feed(model.Graph);
        double latency = Latency(model, tokenizer, passages[0], maxLength, timingSeconds);
        double batch = MedianTime.Milliseconds(model, () => model.RunOutputs(full), timingSeconds);
        return (latency, 32 / (batch / 1000));
    }

    /// <summary>Median milliseconds to run the model on one passage.</summary>
    public static double Latency(GraphModule model, TextTokenizer tokenizer, string passage, int maxLength, double timingSeconds = 0.5)
    {
        model = InferenceEngine.GraphRunner(model);
        var one = tokenizer.Batch([passage], maxLength).Feed(model.Graph);
        return MedianTime.Milliseconds(model, () => model.RunOutputs(one), timingSeconds);
    }
}
