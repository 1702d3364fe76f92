// What the demo's report.html must show, checked on the quick demo's output by the CLI test that runs it (one demo run
// serves both): every variant with its histogram, every plot as valid PNG and SVG, the Pareto front marked on exactly
// the non-dominated variants, the hole magnitude pruning leaves at zero in pruned-90's histogram data, and — where
// Chromium is installed (always under CI) — every image loading in the browser.
using System.Text.Json;
using Condense.Demo;
using Condense.Formats;
using Condense.Plots;

namespace Condense.Tests.Plots;

public static class DemoReportChecks
{
    public static void Check(string outDir)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        var variants = json.RootElement.GetProperty("variants").EnumerateArray()
            .Select(v => (Name: v.GetProperty("name").GetString()!, File: v.GetProperty("file").GetString()!, Metrics: v.GetProperty("metrics")))
            .ToList();
        string page = Path.Combine(outDir, "report.html");
        string html = File.ReadAllText(page);
        string plots = Path.Combine(outDir, DemoHtml.PlotsFolder);
        PlotFiles.AssertSaved(plots, ["pareto", "accuracy-vs-sparsity", "training-loss", "training-accuracy", .. variants.Select(v => "weights-" + v.Name)]);
        foreach (var v in variants) Assert.Contains($"<h2>{v.Name}</h2>", html);

        // The front by the definition, pair by pair, against the rows the page marks.
        var points = variants.Select(v => (v.Name, Size: v.Metrics.GetProperty("file_bytes").GetDouble(),
            Latency: v.Metrics.GetProperty("latency_ms_batch1").GetDouble(), Accuracy: v.Metrics.GetProperty("accuracy").GetDouble())).ToList();
        foreach (var p in points)
        {
            bool dominated = points.Any(q => q.Size <= p.Size && q.Latency <= p.Latency && q.Accuracy >= p.Accuracy
                && (q.Size < p.Size || q.Latency < p.Latency || q.Accuracy > p.Accuracy));
            Assert.True(html.Contains($"<tr class=\"mark\"><td>{p.Name}</td>") == !dominated, $"{p.Name} dominated: {dominated}");
        }

        // pruned-90 keeps the weights above the global 90 % magnitude threshold t: the histogram shown has (almost) nothing
        // within t/2 of zero, where the teacher's same layer has much of its mass.
        var histograms = DemoHtml.VariantHistograms(variants.Select(v => (v.Name, v.File)).ToList());
        var pruned = histograms.Single(h => h.Variant == "pruned-90");
        var magnitudes = ModelWeights.Of(ModelFile.Load(variants[0].File).Graph).SelectMany(w => w.Values).Select(MathF.Abs).Order().ToArray();
        double threshold = magnitudes[(int)(0.9 * magnitudes.Length)];
        Assert.True(pruned.After.FractionNearZero(threshold / 2) < 0.005, $"pruned-90 near zero: {pruned.After.FractionNearZero(threshold / 2)}");
        Assert.True(pruned.Before!.FractionNearZero(threshold / 2) > 0.2, $"teacher near zero: {pruned.Before.FractionNearZero(threshold / 2)}");
        Assert.True(pruned.After.Zeros > 0.5 * (pruned.After.Total + pruned.After.Zeros), "most of pruned-90's layer is zero");
        Assert.NotNull(histograms.Single(h => h.Variant == "int8").Layer.Codes);

        if (HeadlessChromium.Executable is null && Environment.GetEnvironmentVariable("CI") != "true") return;
        var check = HeadlessChromium.Check(page, outDir);
        Assert.Equal(4 + variants.Count, check.Images);
        Assert.Empty(check.Broken);
        Assert.Empty(check.Errors);
    }
}
