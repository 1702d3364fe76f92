using System.Text.Json;
using Condense.Data;

namespace Condense.Tests.Cli;

/// <summary>The CLI end to end, as a separate process: exit codes, one-line errors, JSON output, files.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SmallData() => CliRunner.SmallData(_dir);

    private static void AssertOneLineError(CliRunner.Result r, string expectedFragment) => CliRunner.AssertOneLineError(r, expectedFragment);

    [Fact]
    public void TrainEvalAndInfoAgreeAsJson()
    {
        string data = SmallData();
        string model = Path.Combine(_dir, "m.safetensors");
        var train = CliRunner.Run("train", "--model", "mlp:784-32-10", "--epochs", "2", "--data", data, "-o", model, "--json");
        Assert.True(train.ExitCode == 0, train.Stderr);
        using var trained = JsonDocument.Parse(train.Stdout);
        var t = trained.RootElement;
        Assert.Equal(model, t.GetProperty("output").GetString());
        Assert.Equal(784 * 32 + 32 + 32 * 10 + 10, t.GetProperty("parameters").GetInt64());
        Assert.Equal(new FileInfo(model).Length, t.GetProperty("file_bytes").GetInt64());
        foreach (var key in new[] { "accuracy", "loss", "nonzero_parameters", "latency_ms_batch1", "throughput_batch256" })
            Assert.True(t.TryGetProperty(key, out _), $"missing key {key}");
        Assert.InRange(t.GetProperty("accuracy").GetDouble(), 0.5, 1.0);

        var eval = CliRunner.Run("eval", model, "--data", data, "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var evaluated = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(t.GetProperty("accuracy").GetDouble(), evaluated.RootElement.GetProperty("accuracy").GetDouble());
        Assert.Equal(200, evaluated.RootElement.GetProperty("test_samples").GetInt32());

        var info = CliRunner.Run("info", model, "--json");
        Assert.True(info.ExitCode == 0, info.Stderr);
        using var described = JsonDocument.Parse(info.Stdout);
        var ops = described.RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("op").GetString()!).ToArray();
        Assert.Equal(["Flatten", "Gemm", "Relu", "Gemm"], ops);
        Assert.Equal(t.GetProperty("parameters").GetInt64(), described.RootElement.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void DemoQuickWritesReportsThatMatchTheSavedModel()
    {
        string data = SmallData();
        string outDir = Path.Combine(_dir, "demo");
        var demo = CliRunner.Run("demo", "--quick", "--data", data, "--out", outDir, "--json");
        Assert.True(demo.ExitCode == 0, demo.Stderr);
        // The progress lines (on stderr with --json) name the model each run trains.
        Assert.Contains("training teacher mlp:784-1200-1200-10", demo.Stderr);
        Assert.Contains("distilling student mlp:784-30-10: epoch 2/2", demo.Stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "report.md")));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        var variants = report.RootElement.GetProperty("variants").EnumerateArray().ToList();
        Assert.Equal(["teacher", "threshold", "pruned-90", "structured-50", "int8", "student", "combined"],
            variants.Select(v => v.GetProperty("name").GetString()!));
        long teacherBytes = variants[0].GetProperty("metrics").GetProperty("file_bytes").GetInt64();
        foreach (var variant in variants)
        {
            // Every reported figure is what the saved file gives when evaluated again.
            string file = variant.GetProperty("file").GetString()!;
            var eval = CliRunner.Run("eval", file, "--data", data, "--json");
            Assert.True(eval.ExitCode == 0, eval.Stderr);
            using var evaluated = JsonDocument.Parse(eval.Stdout);
            var metrics = variant.GetProperty("metrics");
            Assert.Equal(metrics.GetProperty("accuracy").GetDouble(), evaluated.RootElement.GetProperty("accuracy").GetDouble(), 6);
            Assert.Equal(new FileInfo(file).Length, metrics.GetProperty("file_bytes").GetInt64());
            Assert.Equal(metrics.GetProperty("parameters").GetInt64(), evaluated.RootElement.GetProperty("parameters").GetInt64());
            Assert.Equal((double)teacherBytes / new FileInfo(file).Length, variant.GetProperty("compression_ratio").GetDouble(), 6);
        }
        Condense.Tests.Plots.DemoReportChecks.Check(outDir);
    }

    [Fact]
    public void MissingModelFile() =>
        AssertOneLineError(CliRunner.Run("eval", Path.Combine(_dir, "nope.safetensors")), "does not exist");

    [Fact]
    public void CorruptModelFile()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3]);
        AssertOneLineError(CliRunner.Run("info", path), "bad.safetensors");
    }

    [Fact]
    public void WrongModelFormat()
    {
        string path = Path.Combine(_dir, "model.pt");
        File.WriteAllText(path, "x");
        AssertOneLineError(CliRunner.Run("eval", path), "unsupported model format");
    }

    [Fact]
    public void BadArguments()
    {
        AssertOneLineError(CliRunner.Run("train", "--model", "cnn:1-2"), "model spec");
        AssertOneLineError(CliRunner.Run("train", "--epochs", "-3"), "epochs");
        AssertOneLineError(CliRunner.Run("train", "--optimizer", "rmsprop"), "rmsprop");
        AssertOneLineError(CliRunner.Run("train", "--data", Path.Combine(_dir, "missing")), "does not exist");
        AssertOneLineError(CliRunner.Run("frobnicate"), "frobnicate");
    }

    [Fact]
    public void CorruptDataFolder()
    {
        string data = SmallData();
        var labels = Path.Combine(data, "train-labels-idx1-ubyte");
        File.WriteAllBytes(labels, File.ReadAllBytes(labels)[..100]);
        AssertOneLineError(CliRunner.Run("train", "--epochs", "1", "--data", data, "-o", Path.Combine(_dir, "x.safetensors")), "train-labels-idx1-ubyte");
        Assert.False(File.Exists(Path.Combine(_dir, "x.safetensors")));
    }
}
