// `condense distill --teacher MODEL --text FILE` on a tiny 2-layer BERT written beside its vocabulary: a 1-layer student
// is saved as ONNX with the fidelity before and after in the JSON, and options of the other mode are one-line errors.
using System.Text.Json;
using Condense.Tests.Distillation;
using Condense.Tests.Onnx;
using Condense.Tests.Transformers;
using Google.Protobuf;

namespace Condense.Tests.Cli;

public sealed class DistillTextCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-distill-text").FullName;

    public DistillTextCliTests()
    {
        File.WriteAllBytes(At("bert.onnx"), TinyTransformer.Bert(17, layers: 2).ToByteArray());
        File.WriteAllText(At("vocab.txt"), TextDistillationTests.Tokenizer().Vocabulary);
        File.WriteAllLines(At("corpus.txt"), TextDistillationTests.Passages(80, 1));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string At(string name) => Path.Combine(_dir, name);

    [Fact]
    public void DistilsAOneLayerStudentAndReportsFidelityBeforeAndAfter()
    {
        var result = CliRunner.Run("distill", "--teacher", At("bert.onnx"), "--text", At("corpus.txt"), "--student-layers", "1", "--epochs", "2",
            "--batch-size", "8", "--lr", "3e-3", "--max-length", "16", "-o", At("student.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(1, json.GetProperty("layers")[0].GetInt32());
        Assert.Equal(4, json.GetProperty("evaluation_passages").GetInt32());
        Assert.Equal(76, json.GetProperty("train_passages").GetInt32());
        double before = json.GetProperty("before").GetProperty("cosine_mean").GetDouble();
        double after = json.GetProperty("after").GetProperty("cosine_mean").GetDouble();
        Assert.InRange(after, before, 1.0);
        Assert.True(json.GetProperty("file_bytes").GetInt64() < json.GetProperty("file_bytes_before").GetInt64());
        // The student is a valid ONNX model that carries its vocabulary.
        var student = Condense.Onnx.OnnxImporter.Import(At("student.onnx"));
        Assert.True(student.Metadata.ContainsKey(Condense.Data.Text.TextTokenizer.MetadataKey));
    }

    [Theory]
    [InlineData("--temperature", "2", "--temperature does not apply to text distillation")]
    [InlineData("--student", "mlp:784-30-10", "--student does not apply")]
    [InlineData("--student-layers", "0,5", "layer 5 does not exist")]
    [InlineData("--student-layers", "1,x", "--student-layers expects layer numbers")]
    public void TextModeRefusesWhatItCannotUse(string option, string value, string message)
    {
        var result = CliRunner.Run("distill", "--teacher", At("bert.onnx"), "--text", At("corpus.txt"), option, value, "-o", At("s.onnx"));
        CliRunner.AssertOneLineError(result, message);
        Assert.False(File.Exists(At("s.onnx")));
    }

    [Fact]
    public void TextOptionsWithoutTextAreAnError()
    {
        var result = CliRunner.Run("distill", "--teacher", At("bert.onnx"), "--student-depth", "1", "--student", "mlp:784-30-10", "-o", At("s.onnx"));
        CliRunner.AssertOneLineError(result, "--student-depth applies to text students: give --text FILE");
    }
}
