// `--report DIR` end to end: every command that compresses (and sensitivity) writes report.html and the plots it
// claims, as valid PNG and SVG files; the page embeds them and opens in headless Chromium with every image loaded and
// no script error; a report folder may not be an input.
using System.Text.Json;
using Condense.Tests.Plots;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Condense.Tests.Cli;

public sealed class ReportCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Data, string Model) TrainedModel()
    {
        string data = CliRunner.SmallData(_dir);
        string model = Path.Combine(_dir, "m.safetensors");
        var train = CliRunner.Run("train", "--model", "mlp:784-64-32-10", "--epochs", "2", "--data", data, "-o", model);
        Assert.True(train.ExitCode == 0, train.Stderr);
        return (data, model);
    }

    private string Report(string name, params string[] args)
    {
        string folder = Path.Combine(_dir, name);
        var run = CliRunner.Run([.. args, "--report", folder, "--json"]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        string page = json.RootElement.GetProperty("report").GetString()!;
        Assert.Equal(Path.Combine(folder, "report.html"), page);
        string html = File.ReadAllText(page);
        Assert.Contains("<dt>command</dt>", html);
        Assert.Contains("data:image/png;base64,", html);
        Assert.DoesNotContain("http://", html);
        return folder;
    }

    [Fact]
    public void EveryCompressingCommandWritesItsPlots()
    {
        var (data, model) = TrainedModel();
        string pruned = Path.Combine(_dir, "p.safetensors");
        PlotFiles.AssertSaved(Report("prune", "prune", model, "--sparsity", "0.8", "--data", data, "-o", pruned), "weights", "sparsity");
        PlotFiles.AssertSaved(Report("quantize", "quantize", model, "--data", data, "-o", Path.Combine(_dir, "q.safetensors")),
            "weights-before", "weights-after");
        PlotFiles.AssertSaved(Report("share", "share", pruned, "--bits", "3", "--finetune-epochs", "1", "--data", data,
            "-o", Path.Combine(_dir, "s.safetensors")), "weights");
        PlotFiles.AssertSaved(Report("distill", "distill", "--teacher", model, "--student", "mlp:784-16-10", "--epochs", "2", "--data", data,
            "-o", Path.Combine(_dir, "d.safetensors")), "weights", "training-loss", "training-accuracy");
        PlotFiles.AssertSaved(Report("sensitivity", "sensitivity", model, "--sparsities", "0,0.5,0.9", "--samples", "100", "--data", data,
            "-o", Path.Combine(_dir, "m.sensitivity.json")), "accuracy-vs-sparsity", "sensitivity");
        PlotFiles.AssertSaved(Report("diagnose", "diagnose", model, Path.Combine(_dir, "q.safetensors"), "--data", data, "--samples", "32"),
            "sqnr", "weights-before", "weights-after");
        // quantize --diagnose puts the diagnosis's SQNR bars on its own page.
        PlotFiles.AssertSaved(Report("quantize-diagnose", "quantize", model, "--data", data, "--diagnose", "-o", Path.Combine(_dir, "q2.safetensors")),
            "weights-before", "weights-after", "sqnr");
    }

    [Fact]
    public void AReportFolderMayNotBeAnInput()
    {
        var (data, model) = TrainedModel();
        var run = CliRunner.Run("prune", model, "--data", data, "-o", Path.Combine(_dir, "p.safetensors"), "--report", model);
        CliRunner.AssertOneLineError(run, "is a file");
    }

    [ChromiumFact]
    public void TheReportOpensInABrowserWithEveryImage()
    {
        var (data, model) = TrainedModel();
        string folder = Report("prune", "prune", model, "--sparsity", "0.9", "--data", data, "-o", Path.Combine(_dir, "p.safetensors"));
        string page = Path.Combine(folder, "report.html");
        var check = HeadlessChromium.Check(page, _dir);
        Assert.Equal(2, check.Images);
        Assert.Empty(check.Broken);
        Assert.Empty(check.Errors);
        string shot = Path.Combine(_dir, "shot.png");
        HeadlessChromium.Screenshot(page, shot, _dir);
        using var image = Image.Load<Rgba32>(shot);
        long ink = 0;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (var p in rows.GetRowSpan(y))
                    if (p.R < 200 || p.G < 200 || p.B < 200) ink++;
        });
        // A blank (all-white) page has no ink; text, tables and the two charts cover a few percent of it.
        Assert.True(ink > image.Width * image.Height / 100, $"the screenshot is nearly blank: {ink} dark pixels");
    }
}
