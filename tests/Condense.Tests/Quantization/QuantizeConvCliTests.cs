// `condense quantize` on convolutional checkpoints as a user runs it: LeNet-5 to an int8 .onnx that
// `condense eval` runs on the integer engine with the accuracy quantize reported; batch norm folded first
// and said so; --equalize, --bias-correction and --adaround report what they did per layer and keep the integer engine.
using Condense.Formats;
using System.Text.Json;
using Condense.Onnx;
using Condense.Tests.Cli;

namespace Condense.Tests.Quantization;

public sealed class QuantizeConvCliTests() : CliWorkspace("condense-quantize-conv-cli-")
{
    [Fact]
    public void LeNet5QuantizesToOnnxAndEvaluatesOnTheIntegerEngine()
    {
        string lenet = Path.Combine(Dir, "lenet.safetensors"), int8 = Path.Combine(Dir, "lenet.int8.onnx");
        ModelFile.Save(Condense.Nn.ModelSpec.Parse("lenet5").Build(1), lenet, [784], "lenet5");
        var r = CliRunner.Run("quantize", lenet, "-o", int8, "--calibration-samples", "200", "--data", Data, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var root = printed.RootElement;
        Assert.Equal("integer", root.GetProperty("engine").GetString());
        Assert.Equal(5, root.GetProperty("layers").GetArrayLength());   // two convs, three Linear layers
        Assert.Equal(0, root.GetProperty("folded_batch_norms").GetInt32());
        Assert.True(new FileInfo(int8).Length < 0.35 * new FileInfo(lenet).Length);
        Assert.Contains(global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(int8)).Graph.Node, n => n.OpType == "QuantizeLinear");

        var eval = CliRunner.Run("eval", int8, "--data", Data, "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var evaluated = JsonDocument.Parse(eval.Stdout);
        Assert.Equal("integer", evaluated.RootElement.GetProperty("engine").GetString());
        Assert.Equal(root.GetProperty("accuracy").GetDouble(), evaluated.RootElement.GetProperty("accuracy").GetDouble(), 6);
    }

    [Fact]
    public void BatchNormIsFoldedFirstAndReported()
    {
        string model = Path.Combine(Dir, "bn.safetensors"), int8 = Path.Combine(Dir, "bn.int8.safetensors");
        ModelFile.Save(Graph.BatchNormFoldingTests.LeNet5WithBatchNorm(2), model, [784]);
        var r = CliRunner.Run("quantize", model, "-o", int8, "--calibration-samples", "100", "--data", Data, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        Assert.Equal(4, printed.RootElement.GetProperty("folded_batch_norms").GetInt32());
        Assert.Equal("integer", printed.RootElement.GetProperty("engine").GetString());
    }

    [Fact]
    public void EqualizationBiasCorrectionAndAdaRoundReportPerLayerAndKeepTheIntegerEngine()
    {
        string lenet = Path.Combine(Dir, "lenet-dfq.safetensors"), int8 = Path.Combine(Dir, "lenet-dfq.int8.safetensors");
        ModelFile.Save(Condense.Nn.ModelSpec.Parse("lenet5").Build(3), lenet, [784], "lenet5");
        var r = CliRunner.Run("quantize", lenet, "-o", int8, "--calibration-samples", "200", "--data", Data, "--json",
            "--equalize", "--bias-correction", "--adaround");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var layers = printed.RootElement.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal("integer", printed.RootElement.GetProperty("engine").GetString());
        Assert.All(layers, l => Assert.True(l.GetProperty("bias_correction").GetDouble() > 0));
        Assert.Equal(2, layers.Count(l => l.TryGetProperty("equalized_with", out _)));       // fc1 → fc2 → fc3 through ReLUs
        Assert.Contains(layers, l => l.TryGetProperty("equalization_skipped", out var why) && why.GetString()!.Contains("MaxPool"));

        var dynamic = CliRunner.Run("quantize", lenet, "-o", int8, "--mode", "dynamic", "--adaround", "--calibration-samples", "100",
            "--data", Data, "--json");
        Assert.True(dynamic.ExitCode == 0, dynamic.Stderr);
    }
}
