// Files the CLI writes, the CLI reads (issue 11, part 3), through the real executable: `condense eval` on the four
// quantized ONNX forms it used to refuse (INT4 QDQ, static QOperator with com.microsoft QGemm, MatMulNBits, dynamic
// QOperator with MatMulInteger) exits 0 and reports the accuracy `quantize` measured before saving, on the engine
// that runs it; and quantize, share and sensitivity on an already-quantized model say so in one line.
using System.Text.Json;

namespace Condense.Tests.Cli;

public sealed class ReadBackCliTests() : CliWorkspace("condense-readback-cli-")
{
    [Theory]
    [InlineData("int4-qdq", "integer", "--bits", "4", "--calibration-samples", "200")]
    [InlineData("qoperator", "integer", "--onnx-format", "qoperator", "--calibration-samples", "200")]
    [InlineData("matmulnbits", "float", "--mode", "weightonly", "--bits", "4", "--onnx-format", "matmulnbits")]
    [InlineData("dynamic-qoperator", "integer", "--mode", "dynamic", "--onnx-format", "qoperator")]
    public void EvalReadsEveryQuantizedOnnxFormat(string name, string engine, params string[] options)
    {
        string file = Path.Combine(Dir, name + ".onnx");
        var quantize = CliRunner.Run(["quantize", Model, "--data", Data, "-o", file, "--json", .. options]);
        Assert.True(quantize.ExitCode == 0, quantize.Stderr);
        using var quantized = JsonDocument.Parse(quantize.Stdout);

        var eval = CliRunner.Run("eval", file, "--data", Data, "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var printed = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(engine, printed.RootElement.GetProperty("engine").GetString());
        // The file predicts what the model did before saving (Onnx/QuantizedRoundTripTests.cs), so the accuracy is the same.
        Assert.Equal(quantized.RootElement.GetProperty("accuracy").GetDouble(), printed.RootElement.GetProperty("accuracy").GetDouble(), 6);
        Assert.True(printed.RootElement.GetProperty("accuracy").GetDouble() > 0.5);
    }

    [Fact]
    public void QuantizeShareSensitivityAndPruneRefuseAnAlreadyQuantizedModel()
    {
        string int8 = Path.Combine(Dir, "int8.safetensors");
        var r = CliRunner.Run("quantize", Model, "--data", Data, "--calibration-samples", "200", "-o", int8);
        Assert.True(r.ExitCode == 0, r.Stderr);
        const string Message = "the model is already quantized (int8 weights in ";
        AssertOneLineError(CliRunner.Run("quantize", int8, "--data", Data, "-o", Path.Combine(Dir, "again.safetensors")), Message);
        AssertOneLineError(CliRunner.Run("share", int8, "--data", Data, "-o", Path.Combine(Dir, "shared.safetensors")), Message);
        AssertOneLineError(CliRunner.Run("sensitivity", int8, "--data", Data), Message);
        AssertOneLineError(CliRunner.Run("prune", int8, "--data", Data, "-o", Path.Combine(Dir, "pruned.safetensors")), Message);
        Assert.False(File.Exists(Path.Combine(Dir, "again.safetensors")));
        Assert.False(File.Exists(Path.Combine(Dir, "shared.safetensors")));
        Assert.False(File.Exists(Path.Combine(Dir, "pruned.safetensors")));
    }
}
