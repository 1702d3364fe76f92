// `condense quantize --onnx-format` through the real executable: a PyTorch-exported model quantized into
// QOperator (static and dynamic int8) and MatMulNBits (int4) ONNX files that ONNX Runtime runs with the
// accuracy the command reports, and the combinations the formats cannot express refused in one line.
using System.Text.Json;
using Condense.Data;
using Condense.Tests.Cli;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Condense.Tests.Onnx;

public sealed class OnnxFormatCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-onnx-format-").FullName;
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("qoperator", "static", "8", "QGemm")]
    [InlineData("qoperator", "dynamic", "8", "MatMulInteger")]
    [InlineData("matmulnbits", "weightonly", "4", "MatMulNBits")]
    public void QuantizeWritesTheChosenOperatorSet(string format, string mode, string bits, string op)
    {
        string output = Path.Combine(_dir, $"mlp128.{format}.{mode}.onnx");
        // Only static mode calibrates; the others refuse --calibration-samples as an option they would ignore.
        string[] calibration = mode == "static" ? ["--calibration-samples", "256"] : [];
        var r = CliRunner.Run(["quantize", Fixture("mlp128.onnx"), "--mode", mode, "--bits", bits, "--onnx-format", format,
            .. calibration, "-o", output, "--json"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        Assert.Equal(format, printed.RootElement.GetProperty("onnx_format").GetString());
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(output));
        Assert.Contains(proto.Graph.Node, n => n.OpType == op);
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "Gemm");

        // ONNX Runtime's accuracy on the embedded test set is the accuracy the command reported (within 1 point:
        // the command measures our engine or simulation, ORT rounds hidden values its own way).
        var (_, test) = Mnist.LoadEmbedded();
        var x = test.Batch(Enumerable.Range(0, test.Count).ToArray());
        using var session = new InferenceSession(output);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.Data.ToArray(), x.Shape))]);
        float[] logits = results.Single().AsEnumerable<float>().ToArray();
        int correct = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var row = logits.AsSpan(i * 10, 10);
            if (row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row)) == test.Labels![i]) correct++;
        }
        double ortAccuracy = correct / (double)test.Count;
        Assert.InRange(ortAccuracy - printed.RootElement.GetProperty("accuracy").GetDouble(), -0.01, 0.01);
    }

    [Theory]
    [InlineData("--mode", "weightonly", "--onnx-format", "qoperator", "qoperator")]
    [InlineData("--bits", "4", "--onnx-format", "qoperator", "--bits 8")]
    [InlineData("--mode", "static", "--onnx-format", "matmulnbits", "weightonly")]
    public void BadCombinationsAreOneLineErrors(string option, string value, string formatOption, string format, string expected)
    {
        string output = Path.Combine(_dir, "bad.onnx");
        CliRunner.AssertOneLineError(CliRunner.Run("quantize", Fixture("mlp128.onnx"), option, value, formatOption, format, "-o", output), expected);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void NonOnnxOutputAndBadBlockSizeAreOneLineErrors()
    {
        CliRunner.AssertOneLineError(CliRunner.Run("quantize", Fixture("mlp128.onnx"), "--onnx-format", "qoperator",
            "-o", Path.Combine(_dir, "m.safetensors")), ".onnx");
        // The default format, given explicitly, is not silently ignored for a checkpoint either.
        CliRunner.AssertOneLineError(CliRunner.Run("quantize", Fixture("mlp128.onnx"), "--onnx-format", "qdq",
            "-o", Path.Combine(_dir, "m.safetensors")), "--onnx-format qdq needs an .onnx output");
        Assert.False(File.Exists(Path.Combine(_dir, "m.safetensors")));
        CliRunner.AssertOneLineError(CliRunner.Run("quantize", Fixture("mlp128.onnx"), "--mode", "weightonly", "--bits", "4",
            "--block-size", "48", "-o", Path.Combine(_dir, "m.onnx")), "block size");
    }
}
