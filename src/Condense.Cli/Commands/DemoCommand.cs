// `condense demo`: the main job — train the seed MLP on the embedded MNIST, prune it, measure every
// saved model, and report (report.json, report.md, report.html with plots). Ctrl-C stops it cleanly: what the run wrote is removed, and it says so.
using System.ComponentModel;
using Condense.Data;
using Condense.Demo;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class DemoCommand : Command<DemoCommand.Settings>
{
    public sealed class Settings : DataSettings
    {
        [CommandOption("--quick")] [Description("A short smoke run (2 epochs, short timings).")]
        public bool Quick { get; init; }

        [CommandOption("-o|--out <DIR>")] [Description("Folder for models and reports (default condense-demo).")]
        public string Out { get; init; } = "condense-demo";

        [CommandOption("-s|--seed <S>")] [Description("Seed (default 0).")]
        public ulong Seed { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        OutputPaths.CheckFolder(settings.Out, new RunInput("data", settings.Data));
        var (train, test) = DataSets.Load(settings.Data);
        // In a distributed run the other ranks build the same models in a scratch folder of their own (the demo reads back
        // every file it saves), removed afterwards; rank 0 writes the user's folder.
        string folder = ProcessRole.WritesOutputs ? settings.Out : Directory.CreateTempSubdirectory("condense-demo-").FullName;
        using var scratch = ProcessRole.WritesOutputs ? null : new ScratchFolder(folder);
        var options = new DemoOptions
        {
            OutputDirectory = folder, Quick = settings.Quick, Seed = settings.Seed, CommandLine = CommandReport.CommandLine(),
        };
        // Ctrl-C stops the run at the next training batch or step, which removes what it wrote; a second Ctrl-C ends
        // the process at once, as usual.
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (interrupt.IsCancellationRequested) return;
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        DemoReport report;
        try { report = TrainingProgress.Run(output, "demo", p => DemoRun.Run(train, test, options, p, interrupt.Token)); }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted; nothing written");
            return 130;   // 128 + SIGINT, what a shell reports for a run stopped by Ctrl-C
        }
        finally { Console.CancelKeyPress -= onCancel; }
        var table = new Table().Title("[bold]Condense demo[/]")
            .AddColumns("variant", "accuracy", "parameters", "non-zero", "size on disk", "latency (b=1)", "throughput (b=256)", "compression");
        foreach (var v in report.Variants)
        {
            var m = v.Metrics;
            table.AddRow(v.Name, $"{m.Accuracy:P2}", $"{m.Parameters:N0}", $"{m.NonzeroParameters:N0}", Output.FormatBytes(m.FileBytes),
                $"{m.LatencyMsBatch1 * 1000:F1} µs", $"{m.ThroughputBatch256:N0}/s", $"{v.CompressionRatio:F1}×");
        }
        output.Console.Write(table);
        output.Console.MarkupLine($"models and reports in [bold]{Markup.Escape(settings.Out)}[/] "
            + $"({Markup.Escape(Path.GetFileName(report.JsonReport))}, {Markup.Escape(Path.GetFileName(report.MarkdownReport))}, "
            + $"{Markup.Escape(Path.GetFileName(report.HtmlReport ?? ""))} with its plots)");
        output.Result(new
        {
            output = settings.Out,
            report.JsonReport, report.MarkdownReport, report.HtmlReport,
            train_seconds = report.TrainSeconds,
            variants = report.Variants.Select(v => new
            {
                name = v.Name, description = v.Description, file = v.File,
                v.Metrics.Accuracy, v.Metrics.Loss, v.Metrics.Parameters, v.Metrics.NonzeroParameters, v.Metrics.FileBytes,
                v.Metrics.LatencyMsBatch1, v.Metrics.ThroughputBatch256, compression_ratio = v.CompressionRatio,
            }),
        });
        return 0;
    }

    private sealed class ScratchFolder(string folder) : IDisposable
    {
        private readonly IDisposable _role = ProcessRole.Scratch(folder);

        public void Dispose()
        {
            _role.Dispose();
            Directory.Delete(folder, recursive: true);
        }
    }
}
