// `condense embed` and `condense eval --text --reference` on all-MiniLM-L6-v2: the .npy holds what the library's
// SentenceEmbedder computes, fidelity of a model to itself is 1 with every documented JSON key, and bad text input
// (no vocabulary, a binary file, --text without --reference) is one line and exit code 1.
using System.Text.Json;
using Condense.Data;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Pretrained;

namespace Condense.Tests.Cli;

public sealed class TextCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-text").FullName;
    private static readonly string[] Passages =
        ["A day for firm decisions!!!!! Or is it?", "hello world", "The quick brown fox jumps over the lazy dog.", "Q: What is a cat?", "x"];

    public TextCommandTests()
    {
        File.WriteAllLines(Path.Combine(_dir, "passages.txt"), Passages);
        File.Copy(PretrainedModels.MiniLmVocabulary, Path.Combine(_dir, "vocab.txt"));
        // A symbolic link keeps the 90 MB model in one place; vocab.txt sits beside the link, as a user's would.
        File.CreateSymbolicLink(Path.Combine(_dir, "minilm.onnx"), PretrainedModels.MiniLmOnnx);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string At(string name) => Path.Combine(_dir, name);

    [Fact]
    public void EmbedWritesTheNormalisedMeanPooledEmbeddings()
    {
        var result = CliRunner.Run("embed", At("minilm.onnx"), "--text", At("passages.txt"), "-o", At("e.npy"), "--batch-size", "2");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var written = Npy.Read(At("e.npy")).ToTensor();
        Assert.Equal([5, 384], written.Shape);
        var expected = new SentenceEmbedder(new GraphModule(OnnxImporter.Import(At("minilm.onnx"))),
            TextTokenizer.FromVocabulary(At("vocab.txt"))).Embed(Passages);
        for (int p = 0; p < 5; p++)
            for (int d = 0; d < 384; d++) Assert.Equal(expected[p][d], written.Data[p * 384 + d], 1e-5);   // batches of 2 vs 5: summation order
    }

    [Fact]
    public void EvalOfAModelAgainstItselfHasFidelityOne()
    {
        var result = CliRunner.Run("eval", At("minilm.onnx"), "--text", At("passages.txt"), "--reference", At("minilm.onnx"),
            "--max-length", "16", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        foreach (var key in new[] { "cosine_mean", "cosine_min", "top10_overlap", "spearman" }) Assert.Equal(1.0, json.GetProperty(key).GetDouble(), 6);
        Assert.Equal(22_713_216, json.GetProperty("parameters").GetInt64());
        Assert.True(json.GetProperty("file_bytes").GetInt64() > 80_000_000);
        Assert.True(json.GetProperty("latency_ms_batch1").GetDouble() > 0);
        Assert.True(json.GetProperty("throughput_batch32").GetDouble() > 0);
    }

    [Fact]
    public void QuantizeTextWritesAnInt4GptqModelAndReportsFidelity()
    {
        var result = CliRunner.Run("quantize", At("minilm.onnx"), "--text", At("passages.txt"), "--mode", "weightonly", "--bits", "4",
            "--method", "gptq", "--max-length", "16", "-o", At("q.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        // GPTQ rounds block-wise weights: without --block-size, blocks of 32.
        Assert.Equal(32, json.GetProperty("block_size").GetInt32());
        Assert.Equal(2, json.GetProperty("calibration_passages").GetInt32());
        Assert.Equal(3, json.GetProperty("evaluation_passages").GetInt32());
        Assert.InRange(json.GetProperty("cosine_mean").GetDouble(), 0.9, 1.0);
        Assert.True(json.GetProperty("file_bytes").GetInt64() < 0.3 * new FileInfo(PretrainedModels.MiniLmOnnx).Length);
        Assert.True(File.Exists(At("q.onnx")));
        // The quantized file carries its vocabulary: embedding with it from a folder without vocab.txt needs no --vocab.
        Directory.CreateDirectory(At("moved"));
        File.Move(At("q.onnx"), At("moved/q.onnx"));
        var embedded = CliRunner.Run("embed", At("moved/q.onnx"), "--text", At("passages.txt"), "-o", At("moved/e.npy"));
        Assert.True(embedded.ExitCode == 0, embedded.Stderr);
        Assert.Equal([5, 384], Npy.Read(At("moved/e.npy")).ToTensor().Shape);
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--mode", "dynamic", "--method", "gptq"], "--method"),
            (["--mode", "dynamic", "--smoothquant", "0.5"], "--smoothquant"),
            (["--mode", "weightonly", "--bits", "4", "--block-size", "32", "--calibration", At("passages.txt")], "--calibration"),
        })
        {
            var bad = CliRunner.Run(["quantize", At("minilm.onnx"), "--text", At("passages.txt"), .. args, "-o", At("bad.onnx")]);
            Assert.Equal(1, bad.ExitCode);
            Assert.Contains(message, bad.Stderr);
            Assert.False(File.Exists(At("bad.onnx")));
        }
    }

    [Fact]
    public void QuantizeTextWithFourBitEmbeddingsWritesASmallerFile()
    {
        var result = CliRunner.Run("quantize", At("minilm.onnx"), "--text", At("passages.txt"), "--mode", "dynamic", "--embedding-bits", "4",
            "--max-length", "16", "-o", At("q.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        var word = json.GetProperty("layers").EnumerateArray().Single(l => l.GetProperty("weight").GetString() == "embeddings.word_embeddings.weight");
        Assert.Equal(4, word.GetProperty("bits").GetInt32());
        Assert.InRange(json.GetProperty("cosine_mean").GetDouble(), 0.9, 1.0);
        Assert.True(json.GetProperty("file_bytes").GetInt64() < 0.21 * new FileInfo(PretrainedModels.MiniLmOnnx).Length);
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--embedding-bits", "6"], "embedding bits"),
            (["--embedding-block-size", "16"], "--embedding-block-size"),
        })
        {
            var bad = CliRunner.Run(["quantize", At("minilm.onnx"), "--text", At("passages.txt"), "--mode", "dynamic", .. args, "-o", At("bad.onnx")]);
            Assert.Equal(1, bad.ExitCode);
            Assert.Contains(message, bad.Stderr);
            Assert.False(File.Exists(At("bad.onnx")));
        }
    }

    [Fact]
    public void EmbeddingsOnlyLeavesTheLinearLayersFloat()
    {
        var result = CliRunner.Run("quantize", At("minilm.onnx"), "--text", At("passages.txt"), "--embeddings-only", "--max-length", "16",
            "-o", At("e.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        var layers = json.GetProperty("layers").EnumerateArray().ToList();
        var quantized = layers.Where(l => l.GetProperty("bits").GetInt32() < 32).Select(l => l.GetProperty("weight").GetString()).ToList();
        Assert.Contains("embeddings.word_embeddings.weight", quantized);
        Assert.All(quantized, name => Assert.Contains("embeddings", name));
        var saved = ModelFile.Load(At("e.onnx")).Graph;
        Assert.Contains(saved.Nodes,
            n => n.OpType == OpTypes.MatMul && saved.Initializers.TryGetValue(n.Inputs[1], out var w) && w.DataType == DataType.Float32);
        Assert.DoesNotContain(saved.Nodes, n => n.OpType is OpTypes.MatMulInteger or OpTypes.DynamicQuantizeLinear);
        // Int8 rows: about a quarter of the word embeddings' bytes, the rest of the file as it was.
        long original = new FileInfo(PretrainedModels.MiniLmOnnx).Length, words = 30522L * 384 * 4;
        Assert.InRange(json.GetProperty("file_bytes").GetInt64(), original - words, original - 0.7 * words);
        Assert.InRange(json.GetProperty("cosine_mean").GetDouble(), 0.99, 1.0);
        CliRunner.AssertOneLineError(CliRunner.Run("quantize", At("minilm.onnx"), "--text", At("passages.txt"), "--embeddings-only", "--bits", "4"),
            "--bits");
    }

    [Fact]
    public void PruneTextReportsFidelityOfTheOneShotPrunedModel()
    {
        var result = CliRunner.Run("prune", At("minilm.onnx"), "--text", At("passages.txt"), "--sparsity", "0.2", "-o", At("p.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(5, json.GetProperty("evaluation_passages").GetInt32());
        Assert.InRange(json.GetProperty("cosine_mean").GetDouble(), 0.5, 0.99999);
        Assert.True(json.GetProperty("nonzero_parameters").GetInt64() < json.GetProperty("parameters").GetInt64());
        var conflict = CliRunner.Run("prune", At("minilm.onnx"), "--text", At("passages.txt"), "--finetune-epochs", "1", "-o", At("q.onnx"));
        Assert.Equal(1, conflict.ExitCode);
        Assert.Contains("--finetune-text", conflict.Stderr);
    }

    [Fact]
    public void BadTextInputIsOneLine()
    {
        File.Copy(At("passages.txt"), At("elsewhere.txt"));
        Directory.CreateDirectory(At("novocab"));
        File.CreateSymbolicLink(At("novocab/model.onnx"), PretrainedModels.MiniLmOnnx);
        var cases = new (string[] Args, string Message)[]
        {
            (["embed", At("novocab/model.onnx"), "--text", At("passages.txt"), "-o", At("a.npy")], "no vocabulary for model.onnx: give --vocab FILE"),
            (["embed", At("minilm.onnx"), "--text", At("vocab.txt") + ".missing", "-o", At("b.npy")], "file not found"),
            (["embed", At("minilm.onnx"), "--text", PretrainedModels.MiniLmOnnx, "-o", At("c.npy")], "a binary file, not UTF-8 text"),
            (["eval", At("minilm.onnx"), "--text", At("passages.txt")], "--reference"),
            (["embed", At("minilm.onnx"), "--text", At("passages.txt"), "--pooling", "max", "-o", At("d.npy")], "--pooling must be mean, cls or none"),
            (["embed", At("minilm.onnx"), "--text", At("passages.txt"), "-o", At("passages.txt")], "passages.txt"),
        };
        foreach (var (args, message) in cases)
        {
            var result = CliRunner.Run(args);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains(message, result.Stderr);
            Assert.Single(result.Stderr.Trim().Split('\n'));
        }
        Assert.Equal(Passages, File.ReadAllLines(At("passages.txt")));
        Assert.False(File.Exists(At("a.npy")) || File.Exists(At("c.npy")) || File.Exists(At("d.npy")));
    }
}
