// `condense distill --teacher MODEL --text FILE` and `condense prune MODEL --text FILE --score …` on a tiny 2-layer BERT written
// beside its vocabulary: a 1-layer student is saved as ONNX with the fidelity before and after in the JSON, a 2:4 Wanda model
// is fine-tuned by distillation with its zeros held, and options of the other mode are one-line errors.
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
        File.WriteAllText(At("vocab.txt"), TextDistillationTests.Vocabulary());
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
    [InlineData("--student-heads", "1", "--student-heads is the share to remove, in [0, 1); got 1")]
    [InlineData("--student-allocation", "sensitivity", "--student-allocation spreads --student-heads or --student-ffn over the layers")]
    public void TextModeRefusesWhatItCannotUse(string option, string value, string message)
    {
        // The toy encoder has 16 positions: at the default 128 the run would first say it cuts passages there.
        var result = CliRunner.Run("distill", "--teacher", At("bert.onnx"), "--text", At("corpus.txt"), option, value, "--max-length", "16",
            "-o", At("s.onnx"));
        CliRunner.AssertOneLineError(result, message);
        Assert.False(File.Exists(At("s.onnx")));
    }

    [Fact]
    public void HeadsSpreadBySensitivityLeaveTheSameTotalInTheSavedStudent()
    {
        var result = CliRunner.Run("distill", "--teacher", At("bert.onnx"), "--text", At("corpus.txt"), "--student-heads", "0.5",
            "--student-ffn", "0.25", "--student-allocation", "sensitivity", "--epochs", "1", "--batch-size", "8", "--max-length", "16",
            "-o", At("spread.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("sensitivity", JsonDocument.Parse(result.Stdout).RootElement.GetProperty("allocation").GetString());
        // Half of all heads and a quarter of all neurons are gone, however the layers share them: the saved Q projections'
        // output widths and the FFN widths add up to the totals the uniform cut leaves.
        var graph = Condense.Formats.ModelFile.Load(At("spread.onnx")).Graph;
        var teacher = Condense.Formats.ModelFile.Load(At("bert.onnx")).Graph;
        long Width(Condense.Graph.ModelGraph g, Func<string, bool> pick) =>
            g.Initializers.Where(p => pick(p.Key) && p.Value.Rank == 2).Sum(p => (long)p.Value.Shape[1]);
        var layers = Condense.Graph.EncoderLayers.Find(new Condense.Graph.GraphModule(teacher));
        string[] queries = [.. layers.Select(l => l.Projections!.QueryKey[0].Weight)], ffn = [.. layers.Select(l => l.Projections!.FeedForwardIn.Weight)];
        Assert.Equal(Width(teacher, queries.Contains) / 2, Width(graph, queries.Contains));
        Assert.Equal(Width(teacher, ffn.Contains) * 3 / 4, Width(graph, ffn.Contains));
    }

    [Fact]
    public void TextOptionsWithoutTextAreAnError()
    {
        var result = CliRunner.Run("distill", "--teacher", At("bert.onnx"), "--student-depth", "1", "--student", "mlp:784-30-10", "-o", At("s.onnx"));
        CliRunner.AssertOneLineError(result, "--student-depth applies to text students: give --text FILE");
    }

    [Fact]
    public void PruneScoresWithWandaAndFineTunesByDistillationWithTheZerosHeld()
    {
        var oneShot = CliRunner.Run("prune", At("bert.onnx"), "--text", At("corpus.txt"), "--nm", "2:4", "--score", "wanda", "--max-length", "16",
            "-o", At("wanda.onnx"), "--json");
        Assert.True(oneShot.ExitCode == 0, oneShot.Stderr);
        var json = JsonDocument.Parse(oneShot.Stdout).RootElement;
        Assert.Equal("wanda", json.GetProperty("score").GetString());
        Assert.Equal(40, json.GetProperty("calibration_passages").GetInt32());
        Assert.Equal(40, json.GetProperty("evaluation_passages").GetInt32());
        Assert.False(json.TryGetProperty("after_finetune", out _));

        var tuned = CliRunner.Run("prune", At("bert.onnx"), "--text", At("corpus.txt"), "--nm", "2:4", "--score", "wanda", "--max-length", "16",
            "--finetune-epochs", "2", "--finetune-text", At("corpus.txt"), "--lr", "3e-3", "-o", At("tuned.onnx"), "--json");
        Assert.True(tuned.ExitCode == 0, tuned.Stderr);
        var after = JsonDocument.Parse(tuned.Stdout).RootElement;
        Assert.Equal(json.GetProperty("nonzero_parameters").GetInt64(), after.GetProperty("nonzero_parameters").GetInt64());
        Assert.Equal(json.GetProperty("cosine_mean").GetDouble(), after.GetProperty("cosine_mean").GetDouble(), 6);
        Assert.True(after.GetProperty("after_finetune").GetProperty("cosine_mean").GetDouble() > after.GetProperty("cosine_mean").GetDouble());
    }

    [Fact]
    public void PruneSpreadsTheSparsityBySensitivityAndReportsEachTensor()
    {
        var result = CliRunner.Run("prune", At("bert.onnx"), "--text", At("corpus.txt"), "--sparsity", "0.5", "--allocation", "sensitivity",
            "--sensitivity-samples", "4", "--max-length", "16", "-o", At("sensitivity.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal("sensitivity", json.GetProperty("allocation").GetString());
        Assert.Equal(40, json.GetProperty("calibration_passages").GetInt32());
        var saved = Condense.Onnx.OnnxImporter.Import(At("sensitivity.onnx"));
        var tensors = json.GetProperty("tensors").EnumerateArray().ToList();
        long parameters = 0, zeros = 0;
        foreach (var t in tensors)
        {
            var weight = saved.Initializers[t.GetProperty("name").GetString()!].Data;
            long n = t.GetProperty("parameters").GetInt64(), nonzero = t.GetProperty("nonzero_parameters").GetInt64();
            Assert.Equal((weight.Length, weight.Count(v => v != 0)), ((int)n, (int)nonzero));
            (parameters, zeros) = (parameters + n, zeros + n - nonzero);
        }
        Assert.True(tensors.Select(t => t.GetProperty("sparsity").GetDouble()).Distinct().Count() > 1, "one sparsity for every tensor");
        Assert.InRange((double)zeros / parameters, 0.5, 0.51);
    }

    [Theory]
    [InlineData("--nm 2:4", "--allocation cannot be combined with --nm")]
    [InlineData("--sparsity 0.95", "sensitivity allocation gives no tensor more than 90 %: a sparsity of 95 % is out of its reach")]
    public void PruneRefusesASensitivityAllocationItCannotMake(string options, string message)
    {
        var result = CliRunner.Run(["prune", At("bert.onnx"), "--text", At("corpus.txt"), "--allocation", "sensitivity", .. options.Split(' '),
            "--max-length", "16", "-o", At("p.onnx")]);
        CliRunner.AssertOneLineError(result, message);
        Assert.False(File.Exists(At("p.onnx")));
        var samples = CliRunner.Run("prune", At("bert.onnx"), "--text", At("corpus.txt"), "--sensitivity-samples", "8", "-o", At("p.onnx"));
        CliRunner.AssertOneLineError(samples, "--sensitivity-samples only applies with --allocation sensitivity");
    }

    [Theory]
    [InlineData("--finetune-epochs", "1", "give --finetune-text FILE")]
    [InlineData("--score", "sparsegpt", "")]
    public void PruneTextRefusesIncompleteFineTuning(string option, string value, string message)
    {
        string[] args = message.Length > 0 ? ["prune", At("bert.onnx"), "--text", At("corpus.txt"), option, value, "-o", At("p.onnx")]
            : ["prune", At("bert.onnx"), option, value, "-o", At("p.onnx")];
        var result = CliRunner.Run(args);
        CliRunner.AssertOneLineError(result, message.Length > 0 ? message : "--score");
        Assert.False(File.Exists(At("p.onnx")));
    }
}
