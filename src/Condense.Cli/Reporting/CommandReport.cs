// The HTML report of a command that compresses (`--report DIR`): the exact command line, versions, machine and run
// time; the histogram of the largest layer's weights before and after (the hole pruning leaves at zero, the levels
// of a quantized layer, the centroids of weight sharing); the plots the pass's report allows (per-tensor sparsity,
// per-layer quantization sensitivity, the students' training curves, sensitivity sweeps, per-layer SQNR of a diagnosis); and the pass's report as
// tables. Each plot is also saved as PNG and SVG beside report.html; every file is written atomically.
using System.Diagnostics;
using System.Globalization;
using Condense.Distillation;
using Condense.Formats;
using Condense.Plots;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Reports.Diagnosis;

namespace Condense.Cli.Reporting;

internal static class CommandReport
{
    /// <summary>
    /// Writes report.html and the plots into the request's folder (with the per-layer SQNR of <paramref name="diagnosis"/>
    /// when the command also diagnosed its result); returns the page's path.
    /// </summary>
    public static string Write(ReportRequest request, string outputFile, object report, DiagnosisReport? diagnosis = null)
    {
        // In a distributed run rank 0 writes the report; the others have no output model to read back.
        if (!ProcessRole.WritesOutputs) return request.Page;
        var page = new HtmlReport($"condense {request.Command}")
            .Fact("command", CommandLine())
            .Fact("input", request.InputModel)
            .Fact("output", outputFile)
            .Fact("run time", (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) + " s")
            .Environment();
        var figures = new List<PlotImage>();
        if (report is not SensitivityReport) figures.AddRange(WeightFigures(request.InputModel, outputFile));
        figures.AddRange(PassFigures(report));
        if (diagnosis is not null) figures.AddRange(PassFigures(diagnosis));
        if (figures.Count > 0) page.Heading("Plots");
        foreach (var figure in figures) page.Figure(figure, "");
        JsonTables.Add(page, report);
        Directory.CreateDirectory(request.Folder);
        foreach (var figure in figures)
        {
            request.CheckTarget(Path.Combine(request.Folder, figure.Name + ".png"), outputFile);
            request.CheckTarget(Path.Combine(request.Folder, figure.Name + ".svg"), outputFile);
            figure.Save(request.Folder);
        }
        request.CheckTarget(request.Page, outputFile);
        page.Save(request.Page);
        return request.Page;
    }

    /// <summary>The command line as typed, each argument quoted where a shell would need it.</summary>
    public static string CommandLine() =>
        string.Join(' ', ["condense", .. Environment.GetCommandLineArgs().Skip(1).Select(Quote)]);

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    // The largest layer before and after: overlaid when both are float, the levels beside the float original when the
    // output holds integer codes.
    private static IEnumerable<PlotImage> WeightFigures(string input, string output)
    {
        var before = ModelWeights.Largest(ModelFile.Load(input).Graph);
        var after = ModelWeights.Largest(ModelFile.Load(output).Graph);
        if (after is null) yield break;
        if (after.Codes is { } type)
        {
            if (before is { Codes: null })
                yield return Histograms.Plot("weights-before", $"weights of {before.Tensor} before", "weight", [("before", HistogramData.Of(before))]);
            yield return Histograms.Plot("weights-after", $"{type.ToString().ToLowerInvariant()} levels of {after.Tensor}", "integer level",
                [("after", HistogramData.Of(after))]);
            yield break;
        }
        if (before is not { Codes: null })
        {
            yield return Histograms.Plot("weights-after", $"weights of {after.Tensor}", "weight", [("after", HistogramData.Of(after))]);
            yield break;
        }
        double range = before.Values.Concat(after.Values).Max(v => Math.Abs((double)v));
        string title = before.Tensor == after.Tensor ? $"weights of {after.Tensor} before and after" : $"weights of {before.Tensor} and {after.Tensor}";
        yield return Histograms.Plot("weights", title, "weight",
            [("before", HistogramData.Of(before, range: range)), ("after", HistogramData.Of(after, range: range))]);
    }

    private static IEnumerable<PlotImage> PassFigures(object report)
    {
        switch (report)
        {
            case PruneReport prune when prune.Tensors.Count > 0:
                yield return Charts.Bars("sparsity", "sparsity per tensor (% of weights zero)", "sparsity (%)",
                    prune.Tensors.Select(t => (t.Name, 100 * t.Sparsity)).ToList());
                break;
            case QuantizeReport { Sensitivities.Count: > 0 } quantize:
                yield return Charts.Bars("quantization-sensitivity", "accuracy lost with one layer quantized alone (points)", "accuracy drop (points)",
                    quantize.Sensitivities!.Select(s => (s.Weight, 100.0 * s.Drop)).ToList());
                break;
            case DistillReport { LabelsOnlyEpochs: { } labels, DistilledEpochs: { } distilled }:
                TrainingCurve[] curves = [new("student, labels only", labels), new("student, distilled", distilled)];
                yield return TrainingCurves.Loss("training-loss", "training loss per epoch (distilled: Hinton's mixed loss)", curves);
                yield return TrainingCurves.Accuracy("training-accuracy", "training accuracy per epoch", curves);
                break;
            case SensitivityReport sensitivity:
                foreach (var figure in SensitivityFigures.Of(sensitivity)) yield return figure;
                break;
            case DiagnosisReport { Layers.Count: > 0 } diagnosis:
                // Worst first, at most 40 bars; an exact layer (+∞ dB) is drawn at the largest finite value.
                var layers = diagnosis.Layers.Take(40).ToList();
                double cap = layers.Select(l => l.SqnrDb).Where(double.IsFinite).DefaultIfEmpty(0).Max();
                yield return Charts.Bars("sqnr", "SQNR per layer (dB, worst first; higher is better)", "SQNR (dB)",
                    layers.Select(l => (l.Weight ?? l.Value, double.IsFinite(l.SqnrDb) ? l.SqnrDb : cap)).ToList());
                break;
        }
    }
}
