// A text student from a teacher encoder and its distillation, measured the way text models are measured without labels:
// fidelity of the student's sentence embeddings to the teacher's on held-out passages, before distillation (the student
// as it was cut from the teacher) and after. Students come from the teacher itself, keeping their weights: some of its
// layers (DistilBERT), and optionally pruned weights whose masks hold while distilling.
using System.Diagnostics;
using System.Text.Json.Serialization;
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Reports;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>How a text student is cut from its teacher.</summary>
public sealed record TextStudentOptions
{
    /// <summary>Teacher layers to keep (indices from 0, increasing); null keeps every layer unless <see cref="Depth"/> is set.</summary>
    public IReadOnlyList<int>? Layers { get; init; }
    /// <summary>Keep this many layers: the first, the last and evenly between (6 → 3 keeps 0, 3, 5).</summary>
    public int? Depth { get; init; }
    /// <summary>Share of attention heads removed per layer (the smallest output-projection slices), physically.</summary>
    public double HeadFraction { get; init; }
    /// <summary>Share of feed-forward neurons removed per layer (smallest ‖W_in[:, j]‖·‖W_out[j, :]‖), physically.</summary>
    public double FeedForwardFraction { get; init; }
    /// <summary>
    /// A narrower residual stream of this many channels (those of most layer-norm energy), with a learned projection back
    /// to the teacher's width at the output; null keeps the width.
    /// </summary>
    public int? HiddenWidth { get; init; }
    /// <summary>Weights to prune before distilling (their masks hold during it); null prunes nothing.</summary>
    public PruneOptions? Prune { get; init; }
    /// <summary>
    /// Passages that Wanda and SparseGPT score the weights on (one per call); with them, removed heads and neurons are also
    /// chosen on these passages and the layers reading them refitted (<see cref="CalibratedWidth"/>) instead of by weight norms.
    /// </summary>
    public IReadOnlyList<string>? Calibration { get; init; }

    /// <summary>
    /// How <see cref="HeadFraction"/> and <see cref="FeedForwardFraction"/> spread over the layers: the same share of every
    /// layer (default), or, given <see cref="Calibration"/>, by measured sensitivity (<see cref="WidthAllocation"/>: each layer
    /// cut alone at 20–90 %, measured by the sentence embeddings of the first <see cref="SensitivitySamples"/> calibration
    /// passages, then the same total removed where it costs least).
    /// </summary>
    public SparsityAllocation Allocation { get; init; } = SparsityAllocation.Uniform;

    /// <summary>Calibration passages each measurement of a <see cref="SparsityAllocation.Sensitivity"/> allocation embeds.</summary>
    public int SensitivitySamples { get; init; } = PruneOptions.DefaultSensitivitySamples;

    /// <summary>How those measurements pool the token states: the model's own pooling (mean by default; BGE's [CLS]).</summary>
    public Pooling Pooling { get; init; } = Pooling.Mean;

    /// <summary>
    /// Calibration passages the command line takes from the training text: on all-MiniLM-L6-v2, SparseGPT at 50 % reaches
    /// cosine 0.894 with 128 corpus passages, 0.911 with 1,024 and 0.915 with 4,096 (at four times the time).
    /// </summary>
    public const int DefaultCalibrationPassages = 1024;
}

/// <summary>The outcome of a text distillation. Its JSON (ReportJson) is what `condense distill --text --json` prints.</summary>
public sealed record TextDistillReport(
    [property: JsonPropertyOrder(0)] IReadOnlyList<int> Layers,
    [property: JsonPropertyOrder(1)] int TrainPassages,
    [property: JsonPropertyOrder(2)] int EvaluationPassages,
    [property: JsonPropertyOrder(3)] TextFidelity Before,
    [property: JsonPropertyOrder(4)] TextFidelity After,
    [property: JsonPropertyOrder(5)] long TeacherParameters,
    [property: JsonPropertyOrder(6)] long Parameters,
    [property: JsonPropertyOrder(7)] long NonzeroParameters,
    [property: JsonPropertyOrder(8)] IReadOnlyList<TextDistillEpoch> Epochs,
    [property: JsonPropertyOrder(12)] double Seconds)
{
    /// <summary>Size of the teacher's file (set by the caller).</summary>
    [JsonPropertyOrder(9)]
    public long FileBytesBefore { get; init; }

    /// <summary>Size of the saved student (set by the caller that saves).</summary>
    [JsonPropertyName("file_bytes"), JsonPropertyOrder(10)]
    public long FileBytesAfter { get; init; }

    /// <summary>Share of attention heads removed (per layer, or in all when <see cref="Allocation"/> spreads them).</summary>
    [JsonPropertyOrder(1)]
    public double HeadFraction { get; init; }

    /// <summary>Share of feed-forward neurons removed per layer.</summary>
    [JsonPropertyOrder(1)]
    public double FeedForwardFraction { get; init; }

    /// <summary>How the removed heads and neurons were spread over the layers: "uniform" or "sensitivity".</summary>
    [JsonPropertyOrder(1)]
    public string Allocation { get; init; } = "uniform";

    /// <summary>The student's residual-stream width when it was narrowed; null otherwise.</summary>
    [JsonPropertyOrder(1)]
    public int? HiddenWidth { get; init; }

    /// <summary>A causal language model's perplexity and next-token fidelity to the teacher before distillation, else null.</summary>
    [JsonPropertyOrder(4)]
    public LanguageModelMetrics? LanguageModelBefore { get; init; }

    /// <summary>The same after distillation, else null.</summary>
    [JsonPropertyOrder(4)]
    public LanguageModelMetrics? LanguageModelAfter { get; init; }

    /// <summary>The student's latency at batch 1 and throughput at batch 32 in Condense's engine, if measured by the caller.</summary>
    [JsonPropertyOrder(11)]
    public TextSpeed? Speed { get; init; }
}

/// <summary>Speed of a text model: latency of one passage and passages per second at batch 32, teacher and student.</summary>
public sealed record TextSpeed(double TeacherLatencyMs, double LatencyMs, double TeacherThroughput, double Throughput);

/// <summary>Cuts a student from a text encoder and distils it.</summary>
public static class TextDistillPipeline
{
    /// <summary>
    /// The student <paramref name="student"/> describes, distilled from <paramref name="teacher"/> on <paramref name="train"/>
    /// and measured against the teacher on <paramref name="evaluation"/>. The teacher is not changed.
    /// </summary>
    public static (GraphModule Student, TextDistillReport Report) Apply(GraphModule teacher, TextTokenizer tokenizer, IReadOnlyList<string> train,
        IReadOnlyList<string> evaluation, TextStudentOptions student, TextDistillOptions options, IProgress<TrainProgress>? progress = null,
        CancellationToken cancellation = default) =>
        Distil(teacher, Cut(teacher, tokenizer, student, options.MaxLength), tokenizer, train, evaluation, student, options, progress, cancellation);

    /// <summary>
    /// As <see cref="Apply"/>, for a student already cut by <see cref="Cut"/> (its model is trained in place), so that a caller
    /// can check the cut before a long run.
    /// </summary>
    public static (GraphModule Student, TextDistillReport Report) Distil(GraphModule teacher, (GraphModule Model, IReadOnlyList<int> Layers) cut,
        TextTokenizer tokenizer, IReadOnlyList<string> train, IReadOnlyList<string> evaluation, TextStudentOptions student, TextDistillOptions options,
        IProgress<TrainProgress>? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        if (evaluation.Count < 2) throw new CondenseException($"measuring fidelity needs at least 2 evaluation passages, got {evaluation.Count}");
        var clock = Stopwatch.StartNew();
        var (model, kept) = cut;
        MaskSet? masks = null;
        var embedding = new EmbeddingOptions(options.MaxLength, options.BatchSize, options.Pooling);
        if (student.Prune is { } prune)
        {
            masks = TextPrunePipeline.Prune(model, tokenizer, prune, student.Calibration, embedding);
            if (masks.Entries.Count == 0) throw new CondenseException("no weight to prune: all were excluded or the student has no Linear layer");
        }
        var reference = new SentenceEmbedder(teacher, tokenizer, embedding).Embed(evaluation, null, cancellation);
        var before = Fidelity.Measure(new SentenceEmbedder(model, tokenizer, embedding).Embed(evaluation, null, cancellation), reference);
        var languageBefore = LanguageModelEvaluation.Measure(model, teacher, tokenizer, evaluation, options.MaxLength, null, cancellation);
        var epochs = TextDistiller.Distill(model, teacher, tokenizer, train, options, masks, progress, cancellation);
        var after = Fidelity.Measure(new SentenceEmbedder(model, tokenizer, embedding).Embed(evaluation, null, cancellation), reference);
        var languageAfter = languageBefore is null ? null
            : LanguageModelEvaluation.Measure(model, teacher, tokenizer, evaluation, options.MaxLength, null, cancellation);
        var summary = ModelSummary.Of(model);
        var report = new TextDistillReport(kept, train.Count, evaluation.Count, TextFidelity.Of(before), TextFidelity.Of(after),
            ModelSummary.Of(teacher).Parameters, summary.Parameters, summary.NonzeroParameters, epochs, clock.Elapsed.TotalSeconds)
        {
            HeadFraction = student.HeadFraction, FeedForwardFraction = student.FeedForwardFraction, HiddenWidth = student.HiddenWidth,
            Allocation = student.Allocation.ToString().ToLowerInvariant(),
            LanguageModelBefore = languageBefore, LanguageModelAfter = languageAfter,
        };
        return (model, report);
    }

    /// <summary>The student before distillation, and the teacher layers it kept.</summary>
    public static (GraphModule Student, IReadOnlyList<int> Layers) Cut(GraphModule teacher, TextTokenizer tokenizer, TextStudentOptions student,
        int maxLength, IProgress<(int Done, int Total)>? progress = null)
    {
        if (student.Layers is not null && student.Depth is not null) throw new CondenseException("give the layers to keep or a depth, not both");
        // Fed by each model's own declaration: a decoder's cache inputs narrow with its heads.
        var sampleBatch = tokenizer.Batch(["a sample passage to read the layer shapes"], maxLength);
        Dictionary<string, Tensor> Sample(GraphModule m) => sampleBatch.Feed(m.Graph);
        var layers = EncoderLayers.Find(teacher, Sample(teacher));
        bool narrower = student.HeadFraction > 0 || student.FeedForwardFraction > 0 || student.HiddenWidth is not null;
        if ((student.Layers is not null || student.Depth is not null || narrower) && layers.Count == 0)
            throw new CondenseException("the teacher has no attention layers to choose from");
        IReadOnlyList<int> keep = student.Layers ?? (student.Depth is int depth ? LayerDropping.EvenlySpaced(layers.Count, depth)
            : [.. Enumerable.Range(0, layers.Count)]);
        var model = student.Layers is null && student.Depth is null ? new GraphModule(teacher.Graph.Clone())
            : LayerDropping.KeepLayers(teacher, layers, keep);
        bool spread = student.Allocation == SparsityAllocation.Sensitivity && narrower;
        if (spread && student.Calibration is null)
            throw new CondenseException("heads and neurons spread by sensitivity are chosen on calibration passages: give them");
        // Heads first; the neurons are then measured and chosen on the model without them.
        foreach (var (share, heads) in new[] { (student.HeadFraction, true), (student.FeedForwardFraction, false) })
        {
            if (share == 0) continue;
            var found = EncoderLayers.Find(model, Sample(model));
            // Feeds for the model as it is now (a decoder's cache inputs narrow with its heads).
            var calibration = TextPrunePipeline.Calibration(model, tokenizer, student.Calibration, maxLength);
            model = (calibration is null ? heads ? AttentionPruning.RemoveHeads(model, found, share) : AttentionPruning.RemoveNeurons(model, found, share)
                : !spread ? heads ? CalibratedWidth.RemoveHeads(model, found, share, calibration)
                    : CalibratedWidth.RemoveNeurons(model, found, share, calibration)
                : WidthAllocation.Remove(model, found, share, heads, calibration, TextPrunePipeline.EmbeddingLoss(model, tokenizer,
                    [.. student.Calibration!.Take(student.SensitivitySamples)], new EmbeddingOptions(maxLength, Pooling: student.Pooling)), progress)
                    .Result).Model;
        }
        if (student.HiddenWidth is int width)
            model = Pruning.HiddenWidth.Shrink(model, EncoderLayers.Find(model, Sample(model)), width, Sample(model)).Model;
        return (model, keep);
    }
}
