// A SentencePiece BPE model file as Llama 2 ships it (Fixtures/text/spm-bpe.model, trained by Google's spm_train with
// byte fallback): every passage gets Google's own encoder's ids (encode-spm-bpe.py), characters no piece covers as their
// UTF-8 bytes; <s> frames each passage unless tokenizer_config.json says otherwise; a tokenizer.model beside the model is
// found, also when the tokenizer.json beside it is Llama 2's (not read); the model file travels in a saved model's metadata.
using System.Text.Json.Nodes;
using Condense.Data;
using Condense.Data.Text;

namespace Condense.Tests.Data.Text;

public sealed class TextTokenizerSentencePieceTests : IDisposable
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "text", name);

    private readonly string _folder = Directory.CreateTempSubdirectory("condense-spm").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (List<string> Passages, List<long[]> Ids) Expected()
    {
        var json = JsonNode.Parse(File.ReadAllText(Fixture("spm-bpe-expected.json")))!;
        return ([.. json["passages"]!.AsArray().Select(p => (string)p!)],
            [.. json["ids"]!.AsArray().Select(row => row!.AsArray().Select(i => (long)i!).ToArray())]);
    }

    [Fact]
    public void IdsEqualGooglesEncoderWithBytesForUncoveredCharacters()
    {
        var (passages, ids) = Expected();
        var tokenizer = TextTokenizer.FromVocabulary(Fixture("spm-bpe.model"));
        Assert.Equal(1, tokenizer.FramingTokens);
        for (int i = 0; i < passages.Count; i++) Assert.Equal([1L, .. ids[i]], tokenizer.Encode(passages[i], 512));
        // Greek is not in the 500 pieces: its letters are bytes <0xCE> <0x..> (ids 3–258), not <unk> (0).
        int greek = passages.FindIndex(p => p.StartsWith("Ελληνικά"));
        Assert.Contains(ids[greek], id => id is >= 3 and < 259);
        Assert.DoesNotContain(0L, ids[greek]);
    }

    [Fact]
    public void TheModelFileIsFoundBesideTheModelAndTravelsInItsMetadata()
    {
        var (passages, ids) = Expected();
        File.Copy(Fixture("spm-bpe.model"), Path.Combine(_folder, "tokenizer.model"));
        // Llama 2's tokenizer.json, which Condense does not read, is passed over for the model file.
        File.WriteAllText(Path.Combine(_folder, "tokenizer.json"),
            """{"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": null}""");
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"),
            """{"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>", "eos_token": "</s>"}""");
        var beside = TextTokenizer.Beside(Path.Combine(_folder, "model.onnx"))!;
        Assert.Equal([1L, .. ids[0], 2L], beside.Encode(passages[0], 512));
        var metadata = new Dictionary<string, string>();
        beside.CarryInto(metadata);
        var carried = TextTokenizer.FromMetadata(metadata, "model.onnx")!;
        for (int i = 0; i < passages.Count; i += 7) Assert.Equal([1L, .. ids[i], 2L], carried.Encode(passages[i], 512));
    }

    [Fact]
    public void AFileThatIsNotASentencePieceModelIsOneLine()
    {
        string path = Path.Combine(_folder, "tokenizer.model");
        File.WriteAllText(path, "not a protobuf at all, just text");
        var e = Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path));
        Assert.Contains("not a SentencePiece model", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
