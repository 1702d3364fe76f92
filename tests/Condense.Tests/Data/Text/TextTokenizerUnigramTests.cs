// SentencePiece Unigram tokenizer.json files (Fixtures/text: a 600-piece model trained with Google's spm_train on corpus
// passages, written in XLM-RoBERTa's and T5's layouts by make-unigram.py): every passage gets the ids Hugging Face's own
// tokenizers library gives (encode-unigram.js), framing included; truncation keeps the framing; the file travels in a
// model's metadata; what the reader cannot do is refused in one line.
using System.Text.Json;
using System.Text.Json.Nodes;
using Condense.Data;
using Condense.Data.Text;

namespace Condense.Tests.Data.Text;

public sealed class TextTokenizerUnigramTests : IDisposable
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "text", name);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "condense-unigram-" + Guid.NewGuid().ToString("N"));

    public TextTokenizerUnigramTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (string[] Passages, Dictionary<string, long[][]> Ids) Expected()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Fixture("unigram-expected.json")));
        var passages = document.RootElement.GetProperty("passages").EnumerateArray().Select(p => p.GetString()!).ToArray();
        var ids = document.RootElement.GetProperty("ids").EnumerateObject().ToDictionary(file => file.Name,
            file => file.Value.EnumerateArray().Select(row => row.EnumerateArray().Select(i => i.GetInt64()).ToArray()).ToArray());
        return (passages, ids);
    }

    [Theory]
    [InlineData("unigram-tokenizer.json", 0L, 2L, 1L)]
    [InlineData("unigram-t5-tokenizer.json", null, 1L, 0L)]
    public void IdsEqualHuggingFacesOnEveryPassage(string file, long? first, long last, long padding)
    {
        var (passages, ids) = Expected();
        var tokenizer = TextTokenizer.FromVocabulary(Fixture(file));
        Assert.Equal(first is null ? 1 : 2, tokenizer.FramingTokens);
        for (int i = 0; i < passages.Length; i++) Assert.Equal(ids[file][i], tokenizer.Encode(passages[i], 512));
        // The fixture's passages reach past its pieces: unknown characters, and sequences of several pieces each.
        Assert.Contains(ids[file].SelectMany(row => row), id => id == (first is null ? 2 : 3));
        Assert.True(ids[file].Average(row => row.Length) > 10);

        // Truncated to 6: the framing kept around the first tokens, as Hugging Face truncates.
        var cut = tokenizer.Encode(passages[0], 6);
        Assert.Equal(6, cut.Length);
        Assert.True(ids[file][0].Length > 6);
        Assert.Equal(ids[file][0].Take(5).Append(last), cut);
        if (first is long f) Assert.Equal(f, cut[0]);
        var batch = tokenizer.Batch([passages[0], "A"], 512);
        Assert.Equal(padding, batch.InputIds.Int64Data[batch.InputIds.Shape[1] * 2 - 1]);
    }

    [Fact]
    public void TheFileTravelsInAModelsMetadataAndIsFoundBesideTheModel()
    {
        var (passages, ids) = Expected();
        File.Copy(Fixture("unigram-t5-tokenizer.json"), Path.Combine(_folder, "tokenizer.json"));
        var beside = TextTokenizer.Beside(Path.Combine(_folder, "model.onnx"))!;
        var metadata = new Dictionary<string, string> { [TextTokenizer.MetadataKey] = "a WordPiece vocabulary the Unigram replaces" };
        beside.CarryInto(metadata);
        Assert.False(metadata.ContainsKey(TextTokenizer.MetadataKey));
        // 346 KB of JSON (mostly the base64 character map) rides compressed.
        Assert.StartsWith("gzip+base64:", metadata[TextTokenizer.TokenizerJsonKey]);
        Assert.True(metadata[TextTokenizer.TokenizerJsonKey].Length < new FileInfo(Fixture("unigram-t5-tokenizer.json")).Length * 0.75);
        var carried = TextTokenizer.FromMetadata(metadata, "model.onnx")!;
        for (int i = 0; i < 20; i++) Assert.Equal(ids["unigram-t5-tokenizer.json"][i], carried.Encode(passages[i], 512));
    }

    [Fact]
    public void WhatTheReaderCannotDoIsRefusedInOneLine()
    {
        var json = JsonNode.Parse(File.ReadAllText(Fixture("unigram-tokenizer.json")))!;
        json["pre_tokenizer"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false}""");
        string path = Path.Combine(_folder, "tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path));
        Assert.Contains("the Unigram tokenizer does not load", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        json = JsonNode.Parse(File.ReadAllText(Fixture("unigram-tokenizer.json")))!;
        json["model"]!["vocab"]![5] = JsonNode.Parse("""["a", "not a score"]""");
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("Unigram piece 5 is not a [piece, score] pair", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path)).Message);

        json = JsonNode.Parse(File.ReadAllText(Fixture("unigram-tokenizer.json")))!;
        json["model"]!["unk_id"] = 9999;
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("out of range", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path)).Message);
    }
}
