// The text commands on a GPT-style decoder exported with a key/value cache (Fixtures/onnx/decoder-past-op14.onnx) and its
// byte-level BPE (vocab.json + merges.txt beside it, as Optimum writes them): `eval` reports perplexity without a reference
// (the library's figure), `quantize` and `prune` report perplexity and next-token fidelity beside the embedding figures, and
// the written model carries its BPE tables, so it is evaluated again from a folder that holds no vocabulary.
using System.Text.Json;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Inference;
using Condense.Tests.Data;
using Condense.Tests.Transformers;

namespace Condense.Tests.Cli;

public sealed class LanguageModelCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-lm").FullName;

    public LanguageModelCliTests()
    {
        File.Copy(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"), At("model.onnx"));
        File.Copy(DecoderWithPastTests.Fixture("bpe300-vocab.json"), At("vocab.json"));
        File.Copy(DecoderWithPastTests.Fixture("bpe300-merges.txt"), At("merges.txt"));
        File.WriteAllLines(At("text.txt"), TextPassages.Read(TestFiles.Fortunes).Take(24));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string At(string name) => Path.Combine(_dir, name);

    [Fact]
    public void EvalReportsPerplexityWithoutAReference()
    {
        var result = CliRunner.Run("eval", At("model.onnx"), "--text", At("text.txt"), "--max-length", "48", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var json = JsonDocument.Parse(result.Stdout).RootElement;
        var expected = LanguageModelEvaluation.Measure(ModelFile.Load(At("model.onnx")), null, TextTokenizer.FromVocabulary(At("vocab.json")),
            TextPassages.Read(At("text.txt")), 48)!;
        Assert.Equal(expected.Perplexity, json.GetProperty("perplexity").GetDouble(), 1e-6 * expected.Perplexity);
        Assert.Equal(expected.Tokens, json.GetProperty("predicted_tokens").GetInt64());
        Assert.False(json.TryGetProperty("cosine_mean", out _));
    }

    [Fact]
    public void QuantizeAndPruneReportNextTokenFidelityAndCarryTheTables()
    {
        var quantized = CliRunner.Run("quantize", At("model.onnx"), "--text", At("text.txt"), "--max-length", "48", "-o", At("q.onnx"), "--json");
        Assert.True(quantized.ExitCode == 0, quantized.Stderr);
        var lm = JsonDocument.Parse(quantized.Stdout).RootElement.GetProperty("language_model");
        Assert.InRange(lm.GetProperty("next_token_agreement").GetDouble(), 0.8, 1.0);
        Assert.InRange(lm.GetProperty("kl_to_reference").GetDouble(), 0, 0.1);
        Assert.True(lm.GetProperty("reference_perplexity").GetDouble() > 1);
        Directory.CreateDirectory(At("moved"));
        File.Move(At("q.onnx"), At("moved/q.onnx"));
        var again = CliRunner.Run("eval", At("moved/q.onnx"), "--text", At("text.txt"), "--max-length", "48", "--reference", At("model.onnx"), "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.InRange(JsonDocument.Parse(again.Stdout).RootElement.GetProperty("next_token_agreement").GetDouble(), 0.8, 1.0);
        AssertOnnxRuntimeAgrees(At("moved/q.onnx"));

        var pruned = CliRunner.Run("prune", At("model.onnx"), "--text", At("text.txt"), "--max-length", "48", "--sparsity", "0.5", "--score", "sparsegpt",
            "-o", At("p.onnx"), "--json");
        Assert.True(pruned.ExitCode == 0, pruned.Stderr);
        var prunedJson = JsonDocument.Parse(pruned.Stdout).RootElement;
        // The output head stays dense, named in the JSON and in one line.
        string head = prunedJson.GetProperty("dense_output_head").GetString()!;
        Assert.Contains($"left dense: {head}, the output head", pruned.Stderr);
        var plm = prunedJson.GetProperty("language_model");
        Assert.InRange(plm.GetProperty("next_token_agreement").GetDouble(), 0.05, 1.0);
        Assert.True(plm.GetProperty("kl_to_reference").GetDouble() > lm.GetProperty("kl_to_reference").GetDouble());
    }

    [Fact]
    public void HeadsAndNeuronsRemovedFromADecoderWithACacheDistil()
    {
        // Heads are chosen on calibration passages, neurons then on the narrower model, whose cache declares fewer heads.
        var result = CliRunner.Run("distill", "--teacher", At("model.onnx"), "--text", At("text.txt"), "--eval-text", At("text.txt"),
            "--max-length", "48", "--student-heads", "0.5", "--student-ffn", "0.5", "--epochs", "1", "-o", At("student.onnx"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var after = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("language_model_after");
        Assert.InRange(after.GetProperty("next_token_agreement").GetDouble(), 0.3, 1.0);
        AssertOnnxRuntimeAgrees(At("student.onnx"));
    }

    // ONNX Runtime runs the written decoder with an empty cache and computes our engine's logits at the real tokens.
    private static void AssertOnnxRuntimeAgrees(string path)
    {
        var model = ModelFile.Load(path);
        model.Eval();
        var batch = DecoderWithPastTests.Tokenizer().Batch(DecoderWithPastTests.Passages, 48);
        var feed = batch.Feed(model.Graph);
        Condense.Tensors.Tensor ours;
        using (Condense.Autograd.GradMode.NoGrad()) ours = InferenceEngine.Compile(model).Runner is Condense.Graph.GraphModule runner
            ? runner.RunOutputs(feed)["logits"] : model.Run(feed)["logits"];
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        var inputs = feed.Select(kv => kv.Value.DataType == Condense.Tensors.DataType.Int64
            ? Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(kv.Key,
                new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(kv.Value.Int64Data.ToArray(), kv.Value.Shape))
            : Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(kv.Key,
                new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(kv.Value.Data.ToArray(), kv.Value.Shape))).ToList();
        using var results = session.Run(inputs);
        var theirs = results.First(r => r.Name == "logits").AsEnumerable<float>().ToArray();
        int width = ours.Shape[2];
        float scale = theirs.Max(Math.Abs);
        for (int i = 0; i < theirs.Length; i++)
            if (batch.AttentionMask.Int64Data[i / width] == 1) Assert.True(Math.Abs(theirs[i] - ours.Data[i]) <= 2e-3f * scale, $"logit {i}");
    }

    [Fact]
    public void APassageLongerThanTheModelsPositionsIsCutThereAndSaysSo()
    {
        // The fixture has 64 positions; this passage is over 100 tokens of its 300-token BPE. The default --max-length (128)
        // is cut to 64 and said once; the figures are those of --max-length 64.
        File.WriteAllText(At("long.txt"), string.Join(' ', Enumerable.Repeat("The quick brown fox jumps over the lazy dog.", 6)) + "\n");
        var cut = CliRunner.Run("eval", At("model.onnx"), "--text", At("long.txt"), "--json");
        Assert.True(cut.ExitCode == 0, cut.Stderr);
        Assert.Contains("passages are cut at 64 tokens, the most model.onnx takes (--max-length 128)", cut.Stderr);
        var fits = CliRunner.Run("eval", At("model.onnx"), "--text", At("long.txt"), "--max-length", "64", "--json");
        Assert.True(fits.ExitCode == 0, fits.Stderr);
        Assert.DoesNotContain("cut at", fits.Stderr);
        double Perplexity(CliRunner.Result r) => JsonDocument.Parse(r.Stdout).RootElement.GetProperty("perplexity").GetDouble();
        Assert.Equal(Perplexity(fits), Perplexity(cut));
        Assert.Equal(63, JsonDocument.Parse(cut.Stdout).RootElement.GetProperty("predicted_tokens").GetInt64());
    }

    [Fact]
    public void AnEncoderWithoutAReferenceIsAOneLineError()
    {
        File.WriteAllBytes(At("bert.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(TinyTransformer.Bert(17, layers: 1)));
        File.WriteAllText(At("vocab.txt"), Distillation.TextDistillationTests.Vocabulary());
        CliRunner.AssertOneLineError(CliRunner.Run("eval", At("bert.onnx"), "--text", At("text.txt")), "--reference");
    }
}
