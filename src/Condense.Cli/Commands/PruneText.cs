// `condense prune MODEL --text FILE`: a text encoder pruned once and measured by fidelity to the original on the passages.
using Condense.Data.Text;
using Condense.Formats;
using Condense.Inference;
using Condense.Pruning;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class PruneText
{
    public static int Run(Output output, PruneCommand.Settings settings, PruneOptions options, string outPath)
    {
        TextOptions.CheckLengths(settings.MaxLength, 32);
        var model = ModelFile.Load(settings.Model);
        var tokenizer = TextOptions.Tokenizer(settings.Model, settings.Vocab, model.Graph);
        var passages = TextPassages.Read(settings.Text!);
        var (pruned, report) = CountProgress.Run(output, "measuring fidelity", passages.Count,
            progress => TextPrunePipeline.Apply(model, tokenizer, passages, options, new EmbeddingOptions(settings.MaxLength), progress));
        pruned.Graph.Metadata[TextTokenizer.MetadataKey] = tokenizer.Vocabulary;
        ModelFile.Save(pruned.Graph, outPath);
        report = report with
        {
            FileBytesBefore = Condense.Reports.ModelMetrics.SizeOnDisk(settings.Model),
            FileBytesAfter = Condense.Reports.ModelMetrics.SizeOnDisk(outPath),
        };
        var table = new Table().AddColumns("", "original", "pruned");
        table.AddRow("sparsity", "", $"{report.Sparsity:P1} ({report.Method})");
        table.AddRow("cosine to original (mean / min)", "1", $"{report.CosineMean:F4} / {report.CosineMin:F4}");
        table.AddRow("top-10 neighbour overlap", "100 %", $"{report.TopKOverlap:P1}");
        table.AddRow("Spearman (pairwise similarities)", "1", $"{report.Spearman:F4}");
        table.AddRow("non-zero parameters", $"{report.Parameters:N0}", $"{report.NonzeroParameters:N0}");
        table.AddRow("file size", Output.FormatBytes(report.FileBytesBefore), Output.FormatBytes(report.FileBytesAfter));
        output.Console.Write(table);
        output.Console.MarkupLine($"measured on {report.EvaluationPassages} passages; saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F1}s");
        output.Result(outPath, null, report);
        return 0;
    }
}
