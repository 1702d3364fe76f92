// The `quantize` command as a user runs it: JSON checked against the saved file and a re-evaluation,
// and bad input reported as one line on stderr with a non-zero exit code.
using System.Text.Json;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Tests.Cli;
using Condense.Tests.Pruning;

namespace Condense.Tests.Quantization;

public sealed class QuantizeCliTests() : CliWorkspace("condense-quantize-cli-")
{
    [Fact]
    public void QuantizeWritesASmallerModelAndReportsAsJson()
    {
        string output = Path.Combine(Dir, "model.int8.safetensors");
        var r = CliRunner.Run("quantize", Model, "--calibration-samples", "200", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var root = printed.RootElement;
        Assert.Equal(new FileInfo(output).Length, root.GetProperty("file_bytes").GetInt64());
        Assert.True(root.GetProperty("file_bytes").GetInt64() < 0.3 * new FileInfo(Model).Length);
        Assert.InRange(root.GetProperty("accuracy_before").GetDouble() - root.GetProperty("accuracy").GetDouble(), -0.05, 0.03);
        Assert.Equal("static", root.GetProperty("mode").GetString());
        Assert.Equal(2, root.GetProperty("layers").GetArrayLength());
        Assert.Equal("integer", root.GetProperty("engine").GetString());
        Assert.True(root.GetProperty("latency_ms_batch1").GetDouble() > 0);
        var eval = CliRunner.Run("eval", output, "--data", Data, "--json");
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        using var evaluated = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(root.GetProperty("accuracy").GetDouble(), evaluated.RootElement.GetProperty("accuracy").GetDouble(), 6);
    }

    [Fact]
    public void ShareReportsDeepCompressionSizes()
    {
        string output = Path.Combine(Dir, "model.shared.safetensors");
        var r = CliRunner.Run("share", Model, "--bits", "4", "--finetune-epochs", "1", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var root = printed.RootElement;
        Assert.True(root.GetProperty("huffman_bytes").GetInt64() < root.GetProperty("shared_bytes").GetInt64());
        Assert.True(root.GetProperty("shared_bytes").GetInt64() < root.GetProperty("dense_bytes").GetInt64() / 6);
        // The file written is the packed form (4-bit indices + codebooks), and file_bytes is its size on disk.
        long fileBytes = root.GetProperty("file_bytes").GetInt64();
        Assert.Equal(new FileInfo(output).Length, fileBytes);
        Assert.True(fileBytes * 4 < new FileInfo(Model).Length, $"{fileBytes} bytes written");
        Assert.Equal((double)root.GetProperty("float32_bytes").GetInt64() / fileBytes, root.GetProperty("file_compression_ratio").GetDouble(), 6);
        // Every weight tensor of the saved model holds at most 2^4 distinct values (16 centroids; zeros kept).
        var saved = Checkpoint.Load(output);
        foreach (var name in new[] { "1.weight", "3.weight" })
            Assert.True(saved.Graph.Initializers[name].Data.Where(v => v != 0).Distinct().Count() <= 16);
        AssertOneLineError(CliRunner.Run("share", Model, "--bits", "9", "--data", Data, "-o", output), "bits");
    }

    [Fact]
    public void BadArgumentsAreOneLineErrors()
    {
        string output = Path.Combine(Dir, "never.safetensors");
        AssertOneLineError(CliRunner.Run("quantize", Model, "--bits", "9", "--data", Data, "-o", output), "bits");
        AssertOneLineError(CliRunner.Run("quantize", Model, "--mode", "fancy", "--data", Data, "-o", output), "fancy");
        AssertOneLineError(CliRunner.Run("quantize", Model, "--exclude", "*", "--data", Data, "-o", output), "quantize");
        AssertOneLineError(CliRunner.Run("quantize", Model, "--data", Data, "-o", Model), "overwrite");
        Assert.False(File.Exists(output));
    }
}
