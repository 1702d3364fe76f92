// `condense share MODEL`: Deep Compression's weight sharing — k-means per layer into 2^b shared values,
// centroid fine-tuning. It reports the size of the file it wrote (b-bit indices + codebooks, bit-packed)
// and, as a separate computed figure, Deep Compression's accounting: sparse gaps + indices + codebooks, then Huffman.
using Condense.DeepCompression;
using Condense.Formats;
using System.ComponentModel;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Quantization;
using Condense.Reports;
using Condense.Training;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class ShareCommand : Command<ShareCommand.Settings>
{
    public sealed class Settings : DataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("The model (.safetensors), pruned or not.")]
        public string Model { get; init; } = "";

        [CommandOption("--bits <B>")] [Description("Index bits: 2^B shared values per layer, 2–8 (default 5).")]
        public int? Bits { get; init; }

        [CommandOption("--finetune-epochs <E>")] [Description("Epochs of centroid fine-tuning (default 2).")]
        public int? FinetuneEpochs { get; init; }

        [CommandOption("--lr <X>")] [Description("Fine-tuning learning rate (default 0.01).")]
        public float? LearningRate { get; init; }

        // Unset options take the library's defaults (WeightSharingOptions).
        public WeightSharingOptions ToOptions()
        {
            var defaults = new WeightSharingOptions();
            return new WeightSharingOptions
            {
                Bits = Bits ?? defaults.Bits, FinetuneEpochs = FinetuneEpochs ?? defaults.FinetuneEpochs,
                Finetune = LearningRate is { } lr ? new TrainOptions { LearningRate = lr } : null,
            }.Validate();
        }

        [CommandOption("--report <DIR>")] [Description(ReportRequest.Help)]
        public string? Report { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to save (default: MODEL.shared.safetensors).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        string outPath = settings.Out ?? Path.ChangeExtension(settings.Model, null) + ".shared.safetensors";
        var options = settings.ToOptions();
        OutputPaths.CheckFile(outPath, new RunInput("input model", settings.Model), new RunInput("data", settings.Data));
        ModelFile.CheckSavable(outPath);
        output.Report = ReportRequest.Check(settings.Report, "share", settings.Model);
        var model = ModelFile.Load(settings.Model);
        var (train, test) = DataSets.Load(settings.Data);
        var (shared, report) = TrainingProgress.Run(output, "centroids", p => WeightSharingPipeline.Apply(model, train, test, options, p));
        ModelFile.SaveShared(shared.Graph, outPath, report.SharedTensors);
        report = report with { FileBytes = AtomicFile.Length(outPath) };

        var sizes = report.Sizes;
        var table = new Table().Title($"[bold]{report.Bits}-bit weight sharing: Deep Compression sizes (computed)[/]")
            .AddColumns("tensor", "non-zero", "dense", "pruned", "+ shared", "+ Huffman");
        foreach (var t in sizes.Tensors)
            table.AddRow(Markup.Escape(t.Name), $"{t.NonZeros:N0}/{t.Parameters:N0}", Output.FormatBytes(t.DenseBytes), Output.FormatBytes(t.PrunedBytes),
                Output.FormatBytes(t.QuantizedBytes), Output.FormatBytes(t.HuffmanBytes));
        table.AddRow("[bold]total[/]", "", Output.FormatBytes(sizes.DenseBytes), $"{Output.FormatBytes(sizes.PrunedBytes)} ({sizes.PrunedRatio:F1}×)",
            $"{Output.FormatBytes(sizes.QuantizedBytes)} ({sizes.QuantizedRatio:F1}×)",
            $"[bold]{Output.FormatBytes(sizes.HuffmanBytes)} ({sizes.HuffmanRatio:F1}×)[/]");
        output.Console.Write(table);
        output.Console.MarkupLine($"accuracy {report.AccuracyBefore:P2} → {report.AccuracyAfterSharing:P2} shared" +
            (report.AccuracyAfterFinetuning is { } f ? $" → {f:P2} after {report.FinetuneEpochs} epochs of centroid fine-tuning" : ""));
        output.Console.MarkupLine($"Deep Compression with the float biases: {report.RatioWithBiases:F1}× smaller than float32");
        string packed = ModelFile.IsOnnx(outPath) ? "float32 values" : $"bit-packed {report.Bits}-bit indices + float32 codebooks";
        output.Console.MarkupLine($"saved [bold]{Markup.Escape(outPath)}[/]: [bold]{Output.FormatBytes(report.FileBytes)}[/] on disk ({packed}), " +
            $"{report.FileRatio:F1}× smaller than the float32 parameters ({Output.FormatBytes(report.Float32Bytes)})");
        var warnings = output.Warnings(RunWarnings.Check(report.FinalAccuracy, test.NumClasses, report.AccuracyBefore, "the model before sharing"));
        output.Result(outPath, warnings, report);
        return 0;
    }
}
