// Byte-level BPE tokenizer.json files that split text otherwise than GPT-2: GPT-2's vocabulary and merges (Fixtures/text)
// under the normalizers and pre-tokenizers of Llama 3 (a Split regex, ignore_merges), Qwen 2 (another regex, NFC),
// SmolLM (digits one by one, then GPT-2's split), BLOOM (a regex whose gaps are pieces too) and a ByteLevel with a prefix
// space. The oracle is Hugging Face's tokenizers library on the same files (encode-bpe-variants.js); the file travels in
// a model's metadata; a pre-tokenizer Condense does not run is refused in one line.
using System.Text.Json;
using System.Text.Json.Nodes;
using Condense.Data;
using Condense.Data.Text;

namespace Condense.Tests.Data.Text;

public sealed class TextTokenizerByteLevelTests : IDisposable
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "text", name);

    private static readonly Lazy<JsonNode> Expected = new(() => JsonNode.Parse(File.ReadAllText(Fixture("bpe-variants-expected.json")))!);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "condense-bytelevel-" + Guid.NewGuid().ToString("N"));

    public TextTokenizerByteLevelTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // The variant's tokenizer.json as encode-bpe-variants.js writes it.
    private string Write(string name, Action<JsonObject>? change = null)
    {
        var variant = Expected.Value["variants"]!.AsArray().Single(v => (string)v!["name"]! == name)!;
        var merges = new JsonArray([.. File.ReadAllLines(Fixture("gpt2-merges.txt")).Where(l => l.Length > 0 && !l.StartsWith("#version"))
            .Select(l => (JsonNode)JsonValue.Create(l)!)]);
        var json = new JsonObject
        {
            ["version"] = "1.0", ["added_tokens"] = new JsonArray(), ["normalizer"] = variant["normalizer"]?.DeepClone(),
            ["pre_tokenizer"] = variant["pre_tokenizer"]!.DeepClone(), ["post_processor"] = null,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["byte_fallback"] = false, ["ignore_merges"] = variant["ignore_merges"]!.DeepClone(),
                ["vocab"] = JsonNode.Parse(File.ReadAllText(Fixture("gpt2-vocab.json"))), ["merges"] = merges,
            },
        };
        if (variant["extra_vocab"] is JsonObject extra)
            foreach (var (token, id) in extra) json["model"]!["vocab"]![token] = id!.DeepClone();
        change?.Invoke(json);
        string path = Path.Combine(_folder, $"{name}-tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen2")]
    [InlineData("smollm")]
    [InlineData("bloom")]
    [InlineData("prefix-space")]
    public void IdsEqualHuggingFacesOnEveryPassage(string name)
    {
        var tokenizer = TextTokenizer.FromVocabulary(Write(name));
        var passages = Expected.Value["passages"]!.AsArray().Select(p => (string)p!).ToList();
        var ids = Expected.Value["ids"]![name]!.AsArray();
        Assert.Equal(0, tokenizer.FramingTokens);
        for (int i = 0; i < passages.Count; i++)
            Assert.Equal(ids[i]!.AsArray().Select(id => (long)id!), tokenizer.Encode(passages[i], 512));
        // Llama 3's ignore_merges: " zzqx" is in its vocabulary but no merge makes it.
        Assert.Equal(name == "llama3", ids[passages.Count - 1]!.AsArray().Any(id => (long)id! == 50257));
    }

    [Fact]
    public void TheVariantsSplitDifferentlyAndTheFileTravelsInAModelsMetadata()
    {
        // The oracle's own ids differ between the variants on the passage with digits (Qwen 2 and SmolLM both split them one
        // by one): what is checked is not GPT-2's split under other names.
        var ids = Expected.Value["ids"]!;
        int digits = Expected.Value["passages"]!.AsArray().Select(p => (string)p!).ToList().FindIndex(p => p.StartsWith("Call 555"));
        Assert.Equal(4, new[] { "llama3", "qwen2", "bloom", "prefix-space", "smollm" }.Select(v => ids[v]![digits]!.ToJsonString()).Distinct().Count());

        var metadata = new Dictionary<string, string>();
        TextTokenizer.FromVocabulary(Write("llama3")).CarryInto(metadata);
        var carried = TextTokenizer.FromMetadata(metadata, "model.onnx")!;
        var passages = Expected.Value["passages"]!.AsArray().Select(p => (string)p!).ToList();
        for (int i = 0; i < passages.Count; i += 10)
            Assert.Equal(ids["llama3"]![i]!.AsArray().Select(id => (long)id!), carried.Encode(passages[i], 512));
    }

    [Fact]
    public void ASequenceOfPostProcessorsFramesAsItsTemplate()
    {
        // Llama 3's: a ByteLevel (offsets only), then a template putting <|begin_of_text|> (here GPT-2's <|endoftext|>) first.
        var path = Write("llama3", j => j["post_processor"] = JsonNode.Parse("""
            {"type": "Sequence", "processors": [
              {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
              {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [], "special_tokens": {}}]}
            """));
        var tokenizer = TextTokenizer.FromVocabulary(path);
        var passage = (string)Expected.Value["passages"]![0]!;
        Assert.Equal([50256L, .. Expected.Value["ids"]!["llama3"]![0]!.AsArray().Select(id => (long)id!)], tokenizer.Encode(passage, 512));
    }

    [Fact]
    public void WhatCondenseDoesNotRunIsRefusedInOneLine()
    {
        var metaspace = Write("llama3", j => j["pre_tokenizer"] = JsonNode.Parse("""{"type": "Metaspace", "replacement": "▁"}"""));
        var e = Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(metaspace));
        Assert.Contains("the pre-tokenizer Metaspace is not supported", e.Message);
        var fallback = Write("llama3", j => j["model"]!["byte_fallback"] = true);
        Assert.Contains("byte fallback", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(fallback)).Message);
        var possessive = Write("llama3", j => j["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = @"\p{L}++");
        Assert.Contains("does not compile", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(possessive)).Message);
        var replace = Write("qwen2", j => j["normalizer"] = JsonNode.Parse("""{"type": "Prepend", "prepend": "▁"}"""));
        Assert.Contains("the normalizer Prepend is not supported", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(replace)).Message);
    }
}
