// `condense prune MODEL --images DIR`: an image model pruned in one shot — weights zeroed by magnitude (or N:M), or whole
// filters removed with --structured — and measured on the images: accuracy when they are labelled, fidelity to the
// original always, with size and speed before and after.
using Condense.Formats;
using Condense.Pruning;
using Condense.Reports;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class PruneImages
{
    public static int Run(Output output, PruneCommand.Settings settings, PruneRun run, string outPath)
    {
        if (run.Schedule != PruneSchedule.OneShot)
            throw new CondenseException($"--images prunes in one shot; --schedule {run.Schedule.ToString().ToLowerInvariant()} needs labelled --data");
        if (run.FinetuneEpochs > 0)
            throw new CondenseException("an image model recovers by distillation from the original: use `condense distill --teacher MODEL --images DIR "
                + "--student-prune R` (--finetune-epochs is for IDX data)");
        run.Validate();
        bool sensitivity = run.Options.Allocation == SparsityAllocation.Sensitivity;
        if (settings.Calibration is not null && !run.Structured && !sensitivity)
            throw new CondenseException("with --images or --data, --calibration chooses the filters that --structured removes or the sparsities that "
                + "--allocation sensitivity spreads: give one of them");
        var model = ModelFile.Load(settings.Model);
        var images = ImageInputs.Load(output, settings, ImageInputs.Source(settings), model, "evaluation");
        var calibration = settings.Calibration is { } folder ? ImageInputs.Load(output, settings, folder, model, "calibration") : null;
        if (sensitivity && calibration is null)
        {
            // No calibration folder: every other image calibrates, the rest are measured (as --text's halves).
            if (images.Count < 4) throw new CondenseException($"--allocation sensitivity needs --calibration DIR or at least 4 images, got {images.Count}");
            int[] even = [.. Enumerable.Range(0, (images.Count + 1) / 2).Select(i => 2 * i)];
            int[] odd = [.. Enumerable.Range(0, images.Count / 2).Select(i => 2 * i + 1)];
            (calibration, images) = (images.Select(even), images.Select(odd));
        }
        (model, int batch) = ImageInputs.Batchable(output, model);
        // A calibrated cut takes minutes on an ImageNet CNN: one bar, its first 100 steps the cut's percent, then the images.
        int cutSteps = run.Structured && calibration is not null ? 100 : 0;
        var (pruned, report) = run.Structured && sensitivity
            ? CountProgress.Run(output, "measuring sensitivity", "choosing filters, measuring", cutSteps + images.Count,
                (sweep, progress) => ImagePrunePipeline.ApplyStructured(model, images, run, batch,
                    new SyncProgress<int>(done => progress.Report(cutSteps + done)), calibration, progress, sweep))
            : run.Structured
            ? CountProgress.Run(output, cutSteps > 0 ? "choosing filters, measuring" : "measuring", cutSteps + images.Count,
                progress => ImagePrunePipeline.ApplyStructured(model, images, run, batch,
                    new SyncProgress<int>(done => progress.Report(cutSteps + done)), calibration, progress))
            : CountProgress.Run(output, "measuring sensitivity", "measuring", images.Count,
                (sweep, progress) => ImagePrunePipeline.Apply(model, images, run.Options, batch, progress, calibration, sweep));
        ModelFile.Save(pruned.Graph, outPath);
        report = report with
        {
            Before = report.Before with { FileBytes = ModelMetrics.SizeOnDisk(settings.Model) },
            After = report.After with { FileBytes = ModelMetrics.SizeOnDisk(outPath) },
        };
        foreach (var c in report.StructuralChanges ?? [])
            output.Console.MarkupLine($"[green]pruned[/] {Markup.Escape(string.Join(" + ", c.Layers))}: {c.ChannelsBefore} → {c.ChannelsAfter} "
                + (c.Layers.Count > 1 ? "channels (joined by a residual Add)" : "filters/neurons"));
        foreach (var s in report.Skipped ?? []) output.Console.MarkupLine($"[yellow]skipped[/] {Markup.Escape(s)}");
        if (sensitivity && !run.Structured) Tables.SparsityByTensor(output, report.Tensors ?? []);
        string what = run.Structured ? $"{report.Sparsity:P1} of parameters removed" : $"{report.Sparsity:P1} sparse ({report.Method})";
        Tables.ImageComparison(output, ImageInputs.Unit(settings), ("original", report.Before), ($"pruned: {what}", report.After));
        output.Console.MarkupLine($"measured on {report.After.Images} {ImageInputs.Unit(settings)}; saved [bold]{Markup.Escape(outPath)}[/] "
            + $"in {report.Seconds:F1}s");
        output.Result(outPath, ImageInputs.Warnings(output, images, report.Before, report.After), report);
        return 0;
    }
}
