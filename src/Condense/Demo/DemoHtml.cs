// The demo's report.html: the variants' table with the Pareto front marked, the Pareto plot (size × latency ×
// accuracy), accuracy against sparsity for the teacher's unstructured prunings, the training curves (the teacher; the
// student from the labels alone beside the distilled one), and each variant with the histogram of its largest
// layer — beside the teacher's for a pruned variant (the hole at zero), its int8 levels for a quantized one. The plots
// are embedded in the page and also saved as PNG and SVG under plots/.
using System.Globalization;
using Condense.Formats;
using Condense.Plots;

namespace Condense.Demo;

/// <summary>The histogram shown for one variant: its largest layer, and the teacher's same layer when it has one.</summary>
/// <param name="Variant">The variant's name.</param>
/// <param name="Layer">The weight plotted.</param>
/// <param name="After">The variant's histogram (zeros left out for float weights; one bin per level for integer codes).</param>
/// <param name="Before">The teacher's histogram of the same tensor over the same bins, or null.</param>
public sealed record VariantHistogram(string Variant, LayerWeights Layer, HistogramData After, HistogramData? Before);

/// <summary>Writes the demo's HTML report.</summary>
public static class DemoHtml
{
    /// <summary>The folder beside report.html that holds the plots as files.</summary>
    public const string PlotsFolder = "plots";

    /// <summary>
    /// The histogram of each variant's largest layer, read from its saved file, by (name, file); the first variant is the
    /// teacher, whose same layer each float variant is shown against.
    /// </summary>
    public static IReadOnlyList<VariantHistogram> VariantHistograms(IReadOnlyList<(string Name, string File)> variants)
    {
        ArgumentNullException.ThrowIfNull(variants);
        var teacher = ModelWeights.Of(ModelFile.Load(variants[0].File).Graph).ToDictionary(w => w.Tensor);
        var result = new List<VariantHistogram>();
        foreach (var (v, index) in variants.Select((v, i) => (v, i)))
        {
            var layer = ModelWeights.Largest(ModelFile.Load(v.File).Graph);
            if (layer is null) continue;
            if (index > 0 && layer.Codes is null && teacher.TryGetValue(layer.Tensor, out var original))
            {
                double range = original.Values.Concat(layer.Values).Max(x => Math.Abs((double)x));
                result.Add(new(v.Name, layer, HistogramData.Of(layer, range: range), HistogramData.Of(original, range: range)));
            }
            else result.Add(new(v.Name, layer, HistogramData.Of(layer), null));
        }
        return result;
    }

    internal static void Write(DemoReport report, IReadOnlyList<TrainingCurve> curves, DemoOptions options, CreatedFiles created,
        double seconds)
    {
        string folder = Path.Combine(options.OutputDirectory, PlotsFolder);
        var page = new HtmlReport("Condense demo");
        if (options.CommandLine is { } line) page.Fact("command", line);
        page.Fact("data", $"{report.Data}: {report.TrainSamples:N0} train, {report.TestSamples:N0} test samples")
            .Fact("seed", options.Seed.ToString(CultureInfo.InvariantCulture) + (options.Quick ? " (quick run)" : ""))
            .Fact("timings", Invariant($"teacher training {report.TrainSeconds:F1} s ({report.TrainSamplesPerSecond:N0} samples/s), whole run {seconds:F1} s"))
            .Environment();
        var points = report.Variants.Select(v => new ParetoPoint(v.Name, v.Metrics.FileBytes, v.Metrics.LatencyMsBatch1, v.Metrics.Accuracy)).ToList();
        bool[] front = ParetoFront.NonDominated(points);
        page.Heading("Variants").Table(
            ["variant", "accuracy", "parameters", "non-zero", "size on disk", "latency (batch 1)", "throughput (batch 256)", "compression", "Pareto front"],
            report.Variants.Select((v, i) => (IReadOnlyList<string>)
            [
                v.Name, Invariant($"{v.Metrics.Accuracy * 100:F2} %"), Invariant($"{v.Metrics.Parameters:N0}"),
                Invariant($"{v.Metrics.NonzeroParameters:N0}"), Invariant($"{v.Metrics.FileBytes:N0} B"),
                Invariant($"{v.Metrics.LatencyMsBatch1 * 1000:F1} µs"), Invariant($"{v.Metrics.ThroughputBatch256:N0}/s"),
                Invariant($"{v.CompressionRatio:F1}×"), front[i] ? "yes" : "",
            ]), highlight: Enumerable.Range(0, front.Length).Where(i => front[i]).ToHashSet());
        var figures = new List<PlotImage>
        {
            ParetoFront.Plot("pareto", "Variants by size, latency (in brackets) and accuracy", points),
            SparsitySweep(report.Variants),
            TrainingCurves.Loss("training-loss", "Training loss per epoch (distilled: Hinton's mixed loss)", curves),
            TrainingCurves.Accuracy("training-accuracy", $"Accuracy per epoch (student {options.Student})",
                curves),
        };
        page.Heading("Plots");
        foreach (var figure in figures) page.Figure(figure, PlotsFolder);
        foreach (var h in VariantHistograms(report.Variants.Select(v => (v.Name, v.File)).ToList()))
        {
            var v = report.Variants.First(x => x.Name == h.Variant);
            var image = HistogramImage(h);
            figures.Add(image);
            page.Heading(v.Name).Paragraph(v.Description)
                .Paragraph(Invariant($"accuracy {v.Metrics.Accuracy * 100:F2} %, {v.Metrics.NonzeroParameters:N0} of {v.Metrics.Parameters:N0} ")
                    + Invariant($"parameters non-zero, {v.Metrics.FileBytes:N0} B on disk, {v.Metrics.LatencyMsBatch1 * 1000:F1} µs per sample"))
                .Figure(image, PlotsFolder);
        }
        if (!Directory.Exists(folder)) created.CreateFolder(folder);
        foreach (var figure in figures)
            foreach (var file in figure.Save(folder)) created.Wrote(file);
        page.Save(created.Wrote(report.HtmlReport!));
    }

    private static PlotImage HistogramImage(VariantHistogram h)
    {
        string name = "weights-" + h.Variant;
        if (h.Layer.Codes is { } type)
            return Histograms.Plot(name, $"{h.Variant}: {type.ToString().ToLowerInvariant()} levels of {h.Layer.Tensor}", "integer level",
                [(h.Variant, h.After)]);
        if (h.Before is null) return Histograms.Plot(name, $"{h.Variant}: weights of {h.Layer.Tensor}", "weight", [(h.Variant, h.After)]);
        return Histograms.Plot(name, $"{h.Variant}: weights of {h.Layer.Tensor} against the teacher's", "weight",
            [("teacher", h.Before), (h.Variant, h.After)]);
    }

    // Accuracy against the share of zero weights for the teacher and its unstructured prunings (the threshold rule
    // and 90 % global magnitude): a sweep of prune runs on one model.
    private static PlotImage SparsitySweep(IReadOnlyList<DemoVariant> variants)
    {
        var sweep = variants.Where(v => v.Name is "teacher" or "threshold" or "pruned-90")
            .Select(v => (Sparsity: 100.0 * (1 - (double)v.Metrics.NonzeroParameters / Math.Max(1, v.Metrics.Parameters)),
                Accuracy: 100.0 * v.Metrics.Accuracy))
            .OrderBy(p => p.Sparsity).ToList();
        return Charts.Lines("accuracy-vs-sparsity", "Accuracy against sparsity of the teacher's prunings",
            "sparsity (% of parameters zero)", "accuracy (%)",
            [new LineSeries("teacher pruned", sweep.Select(p => p.Sparsity).ToList(), sweep.Select(p => p.Accuracy).ToList())]);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
