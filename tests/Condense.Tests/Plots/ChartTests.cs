// The charts of Plots/: each renders a valid PNG and SVG, histograms count what they should, the Pareto front is
// exactly the non-dominated variants (against the definition checked pair by pair), and the HTML page embeds its
// images and escapes its text.
using Condense.Graph;
using Condense.Plots;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Tests.Plots;

public sealed class ChartTests
{
    private static void AssertValid(PlotImage image)
    {
        PlotFiles.AssertPng(image.Png, image.Name);
        PlotFiles.AssertSvg(image.Svg, image.Name);
    }

    [Fact]
    public void EveryChartRendersPngAndSvg()
    {
        AssertValid(Charts.Lines("lines", "accuracy against sparsity", "sparsity (%)", "accuracy (%)",
            [new LineSeries("fc1", [0, 50, 90], [98, 97, 80]), new LineSeries("fc2", [0, 50, 90], [98, 96, 60]) { Secondary = true }]));
        AssertValid(Charts.Bars("bars", "SQNR per layer", "dB",
            [("fc1.weight", 32.5), ("fc2.weight", -3), ("a.very.long.layer.name.of.an.encoder.weight", 12)]));
        var rng = new Rng(1);
        var weights = Enumerable.Range(0, 5000).Select(_ => rng.NextNormal() * 0.1f).ToArray();
        var histogram = HistogramData.Of(new LayerWeights("w", weights, null));
        AssertValid(Histograms.Plot("hist", "weights", "weight", [("before", histogram), ("after", histogram)]));
        AssertValid(ParetoFront.Plot("pareto", "variants",
            [new("a", 1e6, 0.2, 0.98), new("b", 1e5, 0.05, 0.97), new("c", 2e6, 0.3, 0.96), new("d", 3e4, 0.01, 0.90)]));
        var epochs = new[] { new EpochResult(1, 0.1f, 1.2f, 0.7f, new EvalResult(0.8f, 0.9f, 8, 10), 1), new EpochResult(2, 0.1f, 0.6f, 0.9f, null, 1) };
        var curves = new[] { new TrainingCurve("labels only", epochs), new TrainingCurve("distilled", epochs[..1]) };
        AssertValid(TrainingCurves.Loss("loss", "loss", curves));
        AssertValid(TrainingCurves.Accuracy("accuracy", "accuracy", curves));
    }

    [Fact]
    public void SavedFilesAreThePlot()
    {
        string dir = Directory.CreateTempSubdirectory("condense-plot-").FullName;
        try
        {
            var image = Charts.Bars("saved", "t", "v", [("x", 1)]);
            Assert.Equal([Path.Combine(dir, "saved.png"), Path.Combine(dir, "saved.svg")], image.Save(dir));
            Assert.Equal(image.Png, File.ReadAllBytes(Path.Combine(dir, "saved.png")));
            Assert.Throws<ArgumentException>(() => Charts.Bars("../escape", "t", "v", [("x", 1)]));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void HistogramCountsByHand()
    {
        // Bins of width 0.5 over [-1, 1]: -1 and -0.75 in bin 0, 0.25 in bin 2, 0.9 and 5 (clamped) in bin 3; the zeros left out.
        var h = HistogramData.Of([-1f, -0.75f, 0f, 0f, 0.25f, 0.9f, 5f], 4, -1, 1, skipZeros: true);
        Assert.Equal([2L, 0, 1, 2], h.Counts);
        Assert.Equal(2, h.Zeros);
        Assert.Equal(5, h.Total);
        Assert.Equal(0.2, h.FractionNearZero(0.3), 12);   // bin 2's centre 0.25 is within 0.3, bin 1's −0.25 too (empty)
        // Integer codes: one bin per level between the smallest and largest code, each centred on its level.
        var codes = HistogramData.Of(new LayerWeights("q", [-2f, -2f, 0f, 1f, 3f], ElementType.Int8));
        Assert.Equal([2L, 0, 1, 1, 0, 1], codes.Counts);
        Assert.Equal(-2, codes.Center(0), 12);
        Assert.Equal(3, codes.Center(5), 12);
    }

    [Fact]
    public void ParetoFrontIsExactlyTheNonDominatedPoints()
    {
        var rng = new Rng(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = 1 + trial % 12;
            // Few distinct values per axis, so ties (equal sizes, equal accuracies, duplicates) are common.
            var points = Enumerable.Range(0, n).Select(i => new ParetoPoint($"v{i}", 1 + rng.NextInt(4), 1 + rng.NextInt(4), rng.NextInt(4) / 4.0)).ToList();
            bool[] front = ParetoFront.NonDominated(points);
            for (int i = 0; i < n; i++)
            {
                bool dominated = false;
                for (int j = 0; j < n; j++)
                {
                    var (a, b) = (points[j], points[i]);
                    bool noWorse = a.SizeBytes <= b.SizeBytes && a.LatencyMs <= b.LatencyMs && a.Accuracy >= b.Accuracy;
                    bool better = a.SizeBytes < b.SizeBytes || a.LatencyMs < b.LatencyMs || a.Accuracy > b.Accuracy;
                    dominated |= noWorse && better;
                }
                Assert.True(front[i] == !dominated, $"trial {trial}, point {i}: {string.Join("; ", points)}");
            }
        }
    }

    [Fact]
    public void HtmlReportIsSelfContainedAndEscaped()
    {
        var image = Charts.Bars("b", "a <b> chart", "v", [("x", 1)]);
        string html = new HtmlReport("run <1>").Fact("command", "condense prune m.safetensors --exclude '<x>'")
            .Heading("h & h").Paragraph("<script>alert(1)</script>").Table(["k", "v"], [["a", "1.5"], ["<b>", "-2"]], highlight: new HashSet<int> { 1 })
            .Figure(image, "plots").ToHtml();
        Assert.DoesNotContain("<script>", html);
        Assert.Contains("&lt;script&gt;", html);
        Assert.Contains("run &lt;1&gt;", html);
        Assert.Contains("src=\"data:image/png;base64,", html);
        Assert.Contains("href=\"plots/b.svg\"", html);
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.Contains("<td class=\"n\">-2</td>", html);
    }
}
