// `condense prune MODEL --text FILE`: a text encoder pruned (magnitude, or Wanda/SparseGPT scored on calibration passages)
// and measured by fidelity to the original on the passages; with --finetune-epochs, then fine-tuned by distillation from
// the original on --finetune-text with the masks held, and measured again.
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Reports;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class PruneText
{
    public const string DefaultLearningRateText = "1e-4";

    public static int Run(Output output, PruneCommand.Settings settings, PruneOptions options, string outPath)
    {
        TextOptions.CheckLengths(settings.MaxLength, 32);
        if (settings.FinetuneEpochs > 0 && settings.FinetuneText is null)
            throw new CondenseException("a text model fine-tunes by distillation from the original: give --finetune-text FILE (unlabelled passages)");
        var model = ModelFile.Load(settings.Model);
        var pooling = TextOptions.Pooling(settings.Model, model, output);
        var tokenizer = TextOptions.Tokenizer(settings.Model, settings.Vocab, model.Graph).FitTo(model, settings.Model, settings.MaxLength, output);
        var passages = TextPassages.Read(settings.Text!);
        IReadOnlyList<string>? calibration = null;
        IReadOnlyList<string> evaluation = passages;
        if (settings.Calibration is { } file) calibration = TextPassages.Read(file);
        else if (options.Score != PruneScore.Magnitude || options.Allocation == SparsityAllocation.Sensitivity)
            (calibration, evaluation) = TextPassages.Halves(passages, settings.Text!);
        var (pruned, report) = settings.FinetuneEpochs > 0
            ? PruneAndFinetune(output, settings, options, model, tokenizer, calibration, evaluation, pooling)
            : CountProgress.Run(output, "measuring sensitivity", "measuring fidelity", evaluation.Count, (sweep, progress) =>
                TextPrunePipeline.Apply(model, tokenizer, evaluation, options, new EmbeddingOptions(settings.MaxLength, Pooling: pooling), progress,
                    calibration, sweep));
        TextOptions.CarryInto(pruned.Graph, tokenizer, pooling);
        ModelFile.Save(pruned.Graph, outPath);
        report = report with { FileBytesBefore = ModelMetrics.SizeOnDisk(settings.Model), FileBytesAfter = ModelMetrics.SizeOnDisk(outPath) };
        Print(output, report, outPath);
        output.Result(outPath, null, report);
        return 0;
    }

    private static (GraphModule, TextPruneReport) PruneAndFinetune(Output output, PruneCommand.Settings settings, PruneOptions options,
        GraphModule model, TextTokenizer tokenizer, IReadOnlyList<string>? calibration, IReadOnlyList<string> evaluation, Pooling pooling)
    {
        var train = TextPassages.Read(settings.FinetuneText!);
        var distill = new TextDistillOptions
        {
            Epochs = settings.FinetuneEpochs, MaxLength = settings.MaxLength, Seed = settings.Seed, Pooling = pooling,
            LearningRate = settings.LearningRate ?? TextPruneFinetune.DefaultLearningRate,
        }.Validate();
        return TrainingProgress.Run(output, "fine-tuning by distillation",
            p => TextPruneFinetune.Apply(model, tokenizer, train, evaluation, options, distill, calibration, p));
    }

    private static void Print(Output output, TextPruneReport report, string outPath)
    {
        var table = new Table().AddColumns("", "original", "pruned");
        if (report.AfterFinetune is not null) table.AddColumn("pruned, fine-tuned");
        string[] Row(string name, string original, string pruned, string? tuned) => tuned is null ? [name, original, pruned] : [name, original, pruned, tuned];
        var after = report.AfterFinetune;
        string how = $"{report.Method}, {report.Score}" + (report.Allocation == "uniform" ? "" : $", {report.Allocation}");
        table.AddRow(Row("sparsity", "", $"{report.Sparsity:P1} ({how})", after is null ? null : $"{report.Sparsity:P1}"));
        Tables.LanguageModelRows(table, report.LanguageModel, after is null ? null : report.AfterFinetuneLanguageModel);
        table.AddRow(Row("cosine to original (mean / min)", "1", $"{report.CosineMean:F4} / {report.CosineMin:F4}",
            after is null ? null : $"{after.CosineMean:F4} / {after.CosineMin:F4}"));
        table.AddRow(Row("top-10 neighbour overlap", "100 %", $"{report.TopKOverlap:P1}", after is null ? null : $"{after.TopKOverlap:P1}"));
        table.AddRow(Row("Spearman (pairwise similarities)", "1", $"{report.Spearman:F4}", after is null ? null : $"{after.Spearman:F4}"));
        table.AddRow(Row("non-zero parameters", $"{report.Parameters:N0}", $"{report.NonzeroParameters:N0}", after is null ? null : ""));
        table.AddRow(Row("file size", Output.FormatBytes(report.FileBytesBefore), Output.FormatBytes(report.FileBytesAfter), after is null ? null : ""));
        if (report.Allocation != "uniform") Tables.SparsityByTensor(output, report.Tensors);
        output.Console.Write(table);
        if (report.DenseOutputHead is { } head)
            output.Console.MarkupLine($"left dense: {Markup.Escape(head)}, the output head (--include '*' prunes it too)");
        string calibrated = report.CalibrationPassages > 0 ? $"scored on {report.CalibrationPassages} calibration passages, " : "";
        output.Console.MarkupLine($"{calibrated}measured on {report.EvaluationPassages} passages; saved [bold]{Markup.Escape(outPath)}[/] "
            + $"in {report.Seconds:F1}s");
    }
}
