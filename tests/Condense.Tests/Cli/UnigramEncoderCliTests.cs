// An XLM-RoBERTa-style encoder (Fixtures/onnx/xlmr-op14.onnx, exported by PyTorch) with a SentencePiece Unigram
// tokenizer.json beside it, as multilingual sentence encoders ship: `embed` gives, passage by passage, ONNX Runtime's
// mean-pooled states for the ids Hugging Face's tokenizers library gives (Fixtures/text/unigram-expected.json), and a
// model `quantize` writes carries the tokenizer, so it embeds from a folder with no tokenizer file.
using System.Text.Json;
using Condense.Data;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Cli;

public sealed class UnigramEncoderCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-unigram-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string At(string name) => Path.Combine(_dir, name);

    private static string Fixture(string folder, string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", folder, name);

    private float[] Embed(string model)
    {
        var result = CliRunner.Run("embed", model, "--text", At("text.txt"), "-o", At("e.npy"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        return Npy.Read(At("e.npy")).ToFloat();
    }

    [Fact]
    public void EmbeddingsAreOnnxRuntimesOnHuggingFacesIdsAndTheTokenizerTravelsWithTheModel()
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixture("text", "unigram-expected.json")));
        var passages = expected.RootElement.GetProperty("passages").EnumerateArray().Select(p => p.GetString()!).Take(40).ToArray();
        var ids = expected.RootElement.GetProperty("ids").GetProperty("unigram-tokenizer.json").EnumerateArray().Take(40)
            .Select(row => row.EnumerateArray().Select(i => i.GetInt64()).ToArray()).ToArray();
        Directory.CreateDirectory(At("repo"));
        File.Copy(Fixture("onnx", "xlmr-op14.onnx"), At("repo/model.onnx"));
        File.Copy(Fixture("text", "unigram-tokenizer.json"), At("repo/tokenizer.json"));
        File.WriteAllLines(At("text.txt"), passages);

        var embeddings = Embed(At("repo/model.onnx"));
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(At("repo/model.onnx")));
        int width = embeddings.Length / passages.Length;
        for (int p = 0; p < passages.Length; p++)
        {
            var states = TypedParity.RunOnnxRuntime(model,
            [
                ("input_ids", Tensor.FromInt64s(ids[p], DataType.Int64, 1, ids[p].Length)),
                ("attention_mask", Tensor.FromInt64s([.. ids[p].Select(_ => 1L)], DataType.Int64, 1, ids[p].Length)),
            ])["last_hidden_state"];
            var mean = Enumerable.Range(0, width).Select(d => Enumerable.Range(0, ids[p].Length).Average(t => (double)states.Data[t * width + d])).ToArray();
            double norm = Math.Sqrt(mean.Sum(v => v * v));
            for (int d = 0; d < width; d++) Assert.Equal(mean[d] / norm, embeddings[p * width + d], 1e-5);
        }

        var quantized = CliRunner.Run("quantize", At("repo/model.onnx"), "--text", At("text.txt"), "--mode", "dynamic", "-o", At("q.onnx"));
        Assert.True(quantized.ExitCode == 0, quantized.Stderr);
        var carried = Embed(At("q.onnx"));
        for (int p = 0; p < passages.Length; p++)
        {
            double cosine = Enumerable.Range(0, width).Sum(d => (double)carried[p * width + d] * embeddings[p * width + d]);
            Assert.True(cosine > 0.98, $"passage {p}: cosine {cosine}");
        }
    }
}
