// Pruning a text encoder with recovery: the weights the options choose are zeroed (as TextPrunePipeline does), then the
// pruned model is fine-tuned by distillation from the original on unlabelled passages with the masks held
// (TextDistillPipeline over the whole model, no layer cut), and its fidelity to the original is measured before and after
// the fine-tuning. It lives in Distillation because the recovery is distillation; its report is the pruning pass's.
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Reports;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>Prunes a text encoder and fine-tunes it by distillation from the original.</summary>
public static class TextPruneFinetune
{
    /// <summary>
    /// The peak learning rate when the caller gives none: 1e-4 (the default of `condense prune --text --finetune-epochs` since
    /// it was added), below <see cref="TextDistillOptions"/>' 5e-4 for a student cut from its teacher, since a pruned model
    /// starts next to the original.
    /// </summary>
    public const float DefaultLearningRate = 1e-4f;

    /// <summary>
    /// Prunes a copy of <paramref name="model"/> with <paramref name="options"/> (scores that need data calibrate on
    /// <paramref name="calibration"/>), fine-tunes it by distillation from <paramref name="model"/> on <paramref name="train"/>
    /// as <paramref name="distill"/> says, the masks held, and measures its fidelity on <paramref name="evaluation"/>: the
    /// report's figures are before the fine-tuning, <see cref="TextPruneReport.AfterFinetune"/> after it. The original is not changed.
    /// </summary>
    public static (GraphModule Model, TextPruneReport Report) Apply(GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string> train,
        IReadOnlyList<string> evaluation, PruneOptions options, TextDistillOptions distill, IReadOnlyList<string>? calibration = null,
        IProgress<TrainProgress>? progress = null)
    {
        distill.Validate();
        var student = new TextStudentOptions { Prune = options, Calibration = calibration, Pooling = distill.Pooling };
        var cut = TextDistillPipeline.Cut(model, tokenizer, student, distill.MaxLength);
        var (pruned, d) = TextDistillPipeline.Distil(model, cut, tokenizer, train, evaluation, student, distill, progress);
        var summary = ModelSummary.Of(pruned);
        var report = new TextPruneReport(options.Method.ToString().ToLowerInvariant(), options.Score.ToString().ToLowerInvariant(), summary.Sparsity,
            evaluation.Count, d.Before.CosineMean, d.Before.CosineMin, d.Before.TopKOverlap, d.Before.Spearman, summary.Parameters,
            summary.NonzeroParameters, d.Seconds)
        {
            CalibrationPassages = options.Score == PruneScore.Magnitude ? 0 : calibration?.Count ?? 0,
            FinetuneEpochs = distill.Epochs, AfterFinetune = d.After,
            AfterFinetuneLanguageModel = LanguageModelEvaluation.Measure(pruned, model, tokenizer, evaluation, distill.MaxLength),
            DenseOutputHead = TextPrunePipeline.DenseOutputHead(model, tokenizer, options),
        };
        return (pruned, report);
    }
}
