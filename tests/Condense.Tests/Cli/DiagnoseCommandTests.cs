// `condense diagnose` and --diagnose as a user runs them: a trained MNIST MLP given one outlier channel (its hidden
// channel 5 scaled up 300×, the next layer's column scaled down to match, so the float model computes the same) and
// quantized static int8 is diagnosed at the layer that reads the outlier, with the option that fixes it; that option
// raises the worst SQNR; --diagnose adds the same diagnosis to prune's and quantize's output; bad input is one line.
using System.Text.Json;
using System.Text.RegularExpressions;
using Condense.Formats;
using Condense.Graph;
using Condense.Tests.Quantization;

namespace Condense.Tests.Cli;

public sealed class DiagnoseCommandTests : CliWorkspace
{
    private readonly string _outlier;

    public DiagnoseCommandTests() : base("condense-diagnose-cli-")
    {
        var graph = Checkpoint.Load(Model).Graph;
        var (w1, b1, w2) = (graph.Initializers["1.weight"], graph.Initializers["1.bias"], graph.Initializers["3.weight"]);
        for (int i = 0; i < 784; i++) w1.Data[5 * 784 + i] *= 300;
        b1.Data[5] *= 300;
        for (int o = 0; o < 10; o++) w2.Data[o * 32 + 5] /= 300;
        _outlier = Path.Combine(Dir, "outlier.safetensors");
        Checkpoint.Save(graph, _outlier);
    }

    private static JsonElement Json(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    [Fact]
    public void TheOutlierLayerRanksFirstWithItsFixAndTheFixRaisesTheWorstSqnr()
    {
        string plain = Path.Combine(Dir, "outlier.int8.safetensors"), smoothed = Path.Combine(Dir, "outlier.sq.safetensors");

        var quantized = Json(CliRunner.Run("quantize", _outlier, "--data", Data, "--calibration-samples", "200", "-o", plain, "--diagnose", "--json"));

        Assert.Equal(plain, quantized.GetProperty("output").GetString());
        var diagnosis = quantized.GetProperty("diagnosis");
        Assert.Equal(128, diagnosis.GetProperty("samples").GetInt32());
        var worst = diagnosis.GetProperty("layers")[0];
        Assert.Equal("/3/Gemm", worst.GetProperty("node").GetString());
        Assert.Equal(1, worst.GetProperty("input").GetProperty("outlier_channels").GetInt32());
        var hint = worst.GetProperty("hints")[0];
        Assert.Equal("smoothquant", hint.GetProperty("fix").GetString());
        Assert.Equal("quantize --smoothquant 0.5", hint.GetProperty("option").GetString());

        Assert.True(CliRunner.Run("quantize", _outlier, "--data", Data, "--calibration-samples", "200", "--smoothquant", "0.5", "-o", smoothed)
            .ExitCode == 0);
        var table = CliRunner.Run("diagnose", _outlier, smoothed, "--data", Data);
        var fixedReport = Json(CliRunner.Run("diagnose", _outlier, smoothed, "--data", Data, "--samples", "64", "--json"));

        double before = diagnosis.GetProperty("worst_sqnr_db").GetDouble(), after = fixedReport.GetProperty("worst_sqnr_db").GetDouble();
        Assert.True(after > before + 10, $"worst SQNR {before:F1} → {after:F1} dB");
        Assert.Equal((_outlier, smoothed, 64), (fixedReport.GetProperty("reference").GetString(), fixedReport.GetProperty("model").GetString(),
            fixedReport.GetProperty("samples").GetInt32()));
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Contains("per-layer error: outlier.sq.safetensors against outlier.safetensors", table.Stdout);
        Assert.Contains("2 layers compared on 128 samples, worst first", table.Stdout);
        Assert.DoesNotContain("--smoothquant", table.Stdout);

        var bad = CliRunner.Run("diagnose", _outlier, plain, "--data", Data);
        string text = Regex.Replace(bad.Stdout, @"\s+", " ");   // long lines wrap at the console's width
        Assert.Contains("/3/Gemm: 1 of 32 input channels reach up to", text);
        Assert.Contains("× the median channel's max |x| → try quantize --smoothquant 0.5", text);
        Assert.Contains("/3/Gemm: SQNR falls", text);
    }

    [Fact]
    public void PruneDiagnosePrintsTheDiagnosisAfterItsReport()
    {
        string output = Path.Combine(Dir, "model.pruned.safetensors");
        var r = CliRunner.Run("prune", Model, "--sparsity", "0.8", "--data", Data, "-o", output, "--diagnose");
        Assert.True(r.ExitCode == 0, r.Stderr);
        int saved = r.Stdout.IndexOf("saved", StringComparison.Ordinal), diagnosis = r.Stdout.IndexOf("per-layer error", StringComparison.Ordinal);
        Assert.True(saved >= 0 && diagnosis > saved, r.Stdout);
        Assert.Contains("model.pruned.safetensors against model.safetensors", r.Stdout);
        Assert.Contains("/3/Gemm", r.Stdout[diagnosis..]);
    }

    [Fact]
    public void BadInputIsAOneLineError()
    {
        string other = Path.Combine(Dir, "other.safetensors");
        Checkpoint.Save(new LayerGraphs([16], 1).Gemm("g", 16, 4).Build(), other);

        AssertOneLineError(CliRunner.Run("diagnose", Model, other, "--data", Data),
            "the models take different inputs: the reference 'input' [?, 784], the compressed model 'input' [?, 16]");
        AssertOneLineError(CliRunner.Run("diagnose", Model, Path.Combine(Dir, "missing.safetensors")), "missing.safetensors");
        AssertOneLineError(CliRunner.Run("diagnose", Model, Model, "--top", "0"), "--top must be at least 1");
        AssertOneLineError(CliRunner.Run("diagnose", Model, Model, "--sample", "8"), "did you mean '--samples'");
        AssertOneLineError(CliRunner.Run("diagnose", Model, Model, "--vocab", "vocab.txt"), "--text");
        AssertOneLineError(CliRunner.Run("diagnose", Model), "COMPRESSED_MODEL");
    }
}
