// `condense diagnose FLOAT_MODEL COMPRESSED_MODEL`: both models run on the same inputs (eval's data options) and every
// layer output both compute is compared — SQNR, cosine, max error, the reference's range and the input's quantization
// range with the share it clips — worst first, with the option to try where a hint applies (Reports/Diagnosis).
using System.ComponentModel;
using Condense.Cli.CommandLine;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class DiagnoseCommand : Command<DiagnoseCommand.Settings>
{
    public sealed class Settings : ImageDataSettings
    {
        [CommandArgument(0, "<FLOAT_MODEL>")] [Description("The reference: the model before compression (.safetensors or .onnx).")]
        public string Reference { get; init; } = "";

        [CommandArgument(1, "<COMPRESSED_MODEL>")] [Description("The compressed model: quantized, pruned, or any model with the same inputs.")]
        public string Compressed { get; init; } = "";

        [CommandOption("--text <FILE>")] [Description("Text for a text model (one passage per line), fed one passage at a time.")]
        [ConflictsWith("--data"), ConflictsWith("--images")]
        public string? Text { get; init; }

        [CommandOption("--vocab <FILE>")] [Description(TextOptions.VocabHelp)]
        [Requires("--text")]
        public string? Vocab { get; init; }

        [CommandOption("--max-length <N>")] [Description(TextOptions.MaxLengthHelp)]
        [Requires("--text")]
        public int MaxLength { get; init; } = 128;

        [CommandOption("--samples <N>")] [Description("Inputs compared: the first N test samples, images or passages. Default: 128")]
        public int Samples { get; init; } = Diagnosis.DefaultSamples;

        [CommandOption("--top <N>")] [Description("Layers shown in the table, worst first (--json lists all). Default: 20")]
        public int Top { get; init; } = Diagnosis.DefaultTop;

        [CommandOption("--report <DIR>")] [Description(ReportRequest.Help)]
        public string? Report { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Top < 1) throw new CondenseException($"--top must be at least 1, got {settings.Top}");
        var output = new Output(settings.Json);
        var report = ReportRequest.Check(settings.Report, "diagnose", settings.Reference, settings.Compressed);
        var data = new Diagnosis.Data(settings, settings.Text, settings.Vocab, settings.MaxLength, settings.Samples);
        var diagnosis = Diagnosis.Run(output, data, settings.Reference, settings.Compressed);
        Diagnosis.Print(output, diagnosis, $"{Path.GetFileName(settings.Compressed)} against {Path.GetFileName(settings.Reference)}", settings.Top);
        var json = Diagnosis.ToJson(diagnosis);
        json.Insert(0, "reference", settings.Reference);
        json.Insert(1, "model", settings.Compressed);
        if (report is not null)
        {
            // The page: the per-layer SQNR bars, the largest layer's weights in both models, the diagnosis as tables.
            string page = CommandReport.Write(report, settings.Compressed, diagnosis);
            output.Console.MarkupLine($"report [bold]{Markup.Escape(page)}[/]");
            json.Insert(2, "report", page);
        }
        output.Result(json);
        return 0;
    }
}
