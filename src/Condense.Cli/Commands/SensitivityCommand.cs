// `condense sensitivity MODEL`: prune each tensor alone over a sparsity sweep, print the accuracy
// table, write it as JSON (which `prune --sensitivity` reads to spend a global budget per layer), with
// the model's fingerprint so the report cannot be applied to another model.
using Condense.Formats;
using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Pruning;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class SensitivityCommand : Command<SensitivityCommand.Settings>
{
    public sealed class Settings : DataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("The model to analyse (.safetensors).")]
        public string Model { get; init; } = "";

        [CommandOption("--sparsities <LIST>")] [Description("Comma-separated sparsities (default 0,0.05,…,0.95).")]
        public string? Sparsities { get; init; }

        [CommandOption("--include <PATTERN>")] [Description("Only tensors whose name matches; repeatable.")]
        public string[] Include { get; init; } = [];

        [CommandOption("--exclude <PATTERN>")] [Description("Leave tensors whose name matches; repeatable.")]
        public string[] Exclude { get; init; } = [];

        [CommandOption("--samples <N>")] [Description("Evaluate on the first N test samples (default: all).")]
        public int? Samples { get; init; }

        [CommandOption("--budget <S>")] [Description("Also print per-tensor sparsities meeting this global sparsity.")]
        public double? Budget { get; init; }

        [CommandOption("--report <DIR>")] [Description(ReportRequest.Help)]
        public string? Report { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to write the JSON report (default: MODEL.sensitivity.json).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        var sweep = settings.Sparsities is null ? Sensitivity.DefaultSweep
            : settings.Sparsities.Split(',').Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new CondenseException($"--sparsities expects numbers such as 0,0.5,0.9, got '{s}'")).ToArray();
        // Beside the model and named after it, so two models in one folder keep their own reports.
        string outPath = settings.Out ?? Path.ChangeExtension(settings.Model, null) + ".sensitivity.json";
        OutputPaths.CheckFile(outPath, new RunInput("input model", settings.Model), new RunInput("data", settings.Data));
        var reportRequest = ReportRequest.Check(settings.Report, "sensitivity", settings.Model);
        var model = ModelFile.Load(settings.Model);
        var (_, test) = DataSets.Load(settings.Data);
        if (settings.Samples is int n) test = n > 0 ? test.Take(n) : throw new CondenseException($"--samples must be positive, got {n}");
        var options = new PruneOptions { Include = settings.Include, Exclude = settings.Exclude };
        SensitivityReport report = null!;
        if (output.Interactive)
            output.Console.Progress().Start(ctx =>
            {
                var task = ctx.AddTask("sensitivity");
                report = Sensitivity.Analyze(model, test, sweep, options,
                    new SyncProgress<(int Done, int Total)>(p => { task.MaxValue = p.Total; task.Value = p.Done; }));
            });
        else report = Sensitivity.Analyze(model, test, sweep, options);
        AtomicFile.WriteText(outPath, JsonSerializer.Serialize(report, Output.JsonOptions));

        var table = new Table().Title($"[bold]accuracy with one tensor pruned (baseline {report.BaselineAccuracy:P2})[/]").AddColumn("sparsity");
        foreach (var row in report.Rows) table.AddColumn(Markup.Escape($"{row.Tensor} ({row.Parameters:N0})"));
        for (int i = 0; i < sweep.Count; i++)
            table.AddRow([$"{sweep[i]:P0}", .. report.Rows.Select(r => $"{r.Accuracies[i]:P2}")]);
        output.Console.Write(table);
        IReadOnlyDictionary<string, double>? allocation = null;
        if (settings.Budget is double budget)
        {
            allocation = Sensitivity.AllocateBudget(report, budget);
            output.Console.MarkupLine($"for a global sparsity of {budget:P0}: " +
                Markup.Escape(string.Join(", ", allocation.Select(a => $"{a.Key} {a.Value:P0}"))));
        }
        output.Console.MarkupLine($"wrote [bold]{Markup.Escape(outPath)}[/]");
        string? page = reportRequest is null ? null : CommandReport.Write(reportRequest, outPath, report);
        if (page is not null) output.Console.MarkupLine($"report [bold]{Markup.Escape(page)}[/]");
        output.Result(new
        {
            output = outPath, model_sha256 = report.ModelSha256, baseline_accuracy = report.BaselineAccuracy,
            samples = report.Samples, rows = report.Rows, allocation, report = page,
        });
        return 0;
    }
}
