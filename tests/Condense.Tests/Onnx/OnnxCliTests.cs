// ONNX through the command line, as a .NET developer uses it: quantize a PyTorch-exported model into
// an int8 ONNX file, and evaluate, inspect and prune ONNX files like checkpoints.
using Condense.Formats;
using System.Text.Json;
using Condense.Onnx;
using Condense.Tests.Cli;

namespace Condense.Tests.Onnx;

public sealed class OnnxCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-onnx-cli-").FullName;
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void QuantizeAnOnnxModelIntoAnOnnxModel()
    {
        string output = Path.Combine(_dir, "mlp128.int8.onnx");
        var r = CliRunner.Run("quantize", Fixture("mlp128.onnx"), "--calibration-samples", "256", "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var root = printed.RootElement;
        Assert.InRange(root.GetProperty("accuracy_before").GetDouble() - root.GetProperty("accuracy").GetDouble(), -0.01, 0.005);
        Assert.True(new FileInfo(output).Length < 0.3 * new FileInfo(Fixture("mlp128.onnx")).Length);

        // The int8 ONNX file loads back (QDQ), runs on the integer engine, and reports the same accuracy.
        var eval = CliRunner.Run("eval", output, "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var evaluated = JsonDocument.Parse(eval.Stdout);
        Assert.Equal("integer", evaluated.RootElement.GetProperty("engine").GetString());
        Assert.Equal(root.GetProperty("accuracy").GetDouble(), evaluated.RootElement.GetProperty("accuracy").GetDouble(), 6);
        Assert.Equal(101_770, evaluated.RootElement.GetProperty("parameters").GetInt64());
    }

    [Fact]
    public void PruneAndInfoWorkOnOnnxFiles()
    {
        string output = Path.Combine(_dir, "mlp128.pruned.onnx");
        var r = CliRunner.Run("prune", Fixture("mlp128.onnx"), "--sparsity", "0.8", "--global", "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var pruned = ModelFile.Load(output);
        var summary = Condense.Reports.ModelSummary.Of(pruned);
        Assert.InRange(summary.Sparsity, 0.79, 0.80);
        var info = CliRunner.Run("info", output, "--json");
        Assert.True(info.ExitCode == 0, info.Stderr);
        var lenet = CliRunner.Run("eval", Fixture("lenet5.onnx"), "--json");
        Assert.True(lenet.ExitCode == 0, lenet.Stderr);
        Assert.Equal(0.974, JsonDocument.Parse(lenet.Stdout).RootElement.GetProperty("accuracy").GetDouble(), 3);
    }
}
