// Byte-level BPE with GPT-2's vocabulary and merges (Fixtures/text): every passage of fortunes.txt gets the ids of
// tiktoken's gpt2 encoding (an independent implementation over its own rank table), tokenizer.json gives the same ids as
// the two files, RoBERTa-style vocabularies frame passages with <s> … </s>, the tables travel in a model's metadata, and
// batches feed positions and an empty key/value cache by role.
using System.Text;
using System.Text.Json;
using Condense.Data.Text;
using Condense.Tensors;
using Condense.Tests.Data;
using Condense.Tests.Pretrained;
using Microsoft.ML.Tokenizers;

namespace Condense.Tests.Data.Text;

public sealed class TextTokenizerBpeTests : IDisposable
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "text", name);

    private static readonly Lazy<TextTokenizer> Gpt2 = new(() =>
    {
        using var vocabulary = File.OpenRead(Fixture("gpt2-vocab.json"));
        using var merges = File.OpenRead(Fixture("gpt2-merges.txt"));
        return TextTokenizer.FromBpe(vocabulary, merges, "gpt2");
    });

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "condense-bpe-" + Guid.NewGuid().ToString("N"));

    public TextTokenizerBpeTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Gpt2IdsEqualTiktokensOnEveryPassage()
    {
        var tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
        var passages = TextPassages.Read(TestFiles.Fortunes);
        Assert.True(passages.Count > 400);
        foreach (var passage in passages)
            Assert.Equal(tiktoken.EncodeToIds(passage).Select(i => (long)i), Gpt2.Value.Encode(passage, 100_000));
        Assert.Equal([15496, 995], Gpt2.Value.Encode("Hello world", 16));
        Assert.Equal(0, Gpt2.Value.FramingTokens);
        Assert.Equal(50257, Gpt2.Value.VocabularySize);
        // Truncation keeps the first tokens; padding is <|endoftext|> with a zero mask.
        Assert.Equal([15496], Gpt2.Value.Encode("Hello world", 1));
        var batch = Gpt2.Value.Batch(["Hello world", "Hello"], 16);
        Assert.Equal([15496, 995, 15496, 50256], batch.InputIds.Int64Data);
        Assert.Equal([1, 1, 1, 0], batch.AttentionMask.Int64Data);
    }

    [Fact]
    public void TokenizerJsonGivesTheIdsOfItsFiles()
    {
        var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Fixture("gpt2-vocab.json")))!;
        var merges = File.ReadAllLines(Fixture("gpt2-merges.txt")).Skip(1).Where(l => l.Length > 0).ToList();
        string passage = "It's 3:14 in Zürich — “naïve” café owners don't   panic!\tReally?";
        // Newer Hugging Face tokenizers write merges as pairs, older ones as "a b" strings: both read the same.
        foreach (var pairs in new[] { false, true })
        {
            object mergeList = pairs ? merges.Select(m => m.Split(' ')).ToList() : merges;
            var json = new
            {
                model = new { type = "BPE", vocab = vocabulary, merges = mergeList },
                pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, use_regex = true },
            };
            // Any name: a JSON file with a "model" object is a tokenizer.json.
            string path = Path.Combine(_folder, pairs ? "tokenizer.json" : "gpt2-tokenizer.json");
            File.WriteAllText(path, JsonSerializer.Serialize(json));
            Assert.Equal(Gpt2.Value.Encode(passage, 128), TextTokenizer.FromVocabulary(path).Encode(passage, 128));
        }
        // A WordPiece tokenizer.json reads as its vocab.txt.
        var words = File.ReadAllLines(PretrainedModels.MiniLmVocabulary).Where(l => l.Length > 0).Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i);
        File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), JsonSerializer.Serialize(new { model = new { type = "WordPiece", vocab = words } }));
        var miniLm = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        Assert.Equal(miniLm.Encode(passage, 128), TextTokenizer.FromVocabulary(Path.Combine(_folder, "tokenizer.json")).Encode(passage, 128));
    }

    [Fact]
    public void UnsupportedTokenizersAreRefusedInOneLine()
    {
        string path = Path.Combine(_folder, "tokenizer.json");
        File.WriteAllText(path, """{"model": {"type": "WordLevel", "vocab": {}}}""");
        Assert.Contains("WordLevel tokenizer is not supported", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path)).Message);
        File.WriteAllText(path, """{"model": {"type": "Unigram", "vocab": {}}}""");
        Assert.Contains("no model.vocab list", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path)).Message);
        File.WriteAllText(path, """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}""");
        Assert.Contains("byte-level", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(path)).Message);
        File.WriteAllText(Path.Combine(_folder, "vocab.json"), """{"a": 0}""");
        Assert.Contains("merges.txt", Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(Path.Combine(_folder, "vocab.json"))).Message);
        File.WriteAllText(Path.Combine(_folder, "merges.txt"), "#version: 0.2\na\n");
        var noBytes = Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(Path.Combine(_folder, "vocab.json")));
        Assert.Contains("byte 0x00 has no token", noBytes.Message);
        // The 300-token fixture vocabulary with merges that are not two tokens, or join unknown ones.
        File.Copy(Transformers.DecoderWithPastTests.Fixture("bpe300-vocab.json"), Path.Combine(_folder, "vocab.json"), overwrite: true);
        foreach (var merges in new[] { "#version: 0.2\na\n", "#version: 0.2\nĠ t\nx y\n", "Ġ t\nq z\n" })
        {
            File.WriteAllText(Path.Combine(_folder, "merges.txt"), merges);
            var badMerges = Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(Path.Combine(_folder, "vocab.json")));
            Assert.Contains("is not two known tokens", badMerges.Message);
        }
        File.WriteAllText(Path.Combine(_folder, "vocab.json"), "[1, 2]");
        var error = Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(Path.Combine(_folder, "vocab.json")));
        Assert.Contains("not a BPE vocabulary", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ARobertaVocabularyFramesPassagesAndPadsWithItsPadToken()
    {
        var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Fixture("gpt2-vocab.json")))!
            .ToDictionary(p => p.Key, p => p.Value + 4);
        foreach (var (token, id) in new[] { ("<s>", 0), ("<pad>", 1), ("</s>", 2), ("<unk>", 3) }) vocabulary[token] = id;
        // Without GPT-2's <|endoftext|>, which CodeGenTokenizer wants as its unknown token.
        vocabulary.Remove("<|endoftext|>");
        var roberta = TextTokenizer.FromBpe(new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(vocabulary)),
            File.OpenRead(Fixture("gpt2-merges.txt")), "roberta");
        Assert.Equal(2, roberta.FramingTokens);
        Assert.Equal([0, 15496 + 4, 995 + 4, 2], roberta.Encode("Hello world", 16));
        Assert.Equal([0, 15496 + 4, 2], roberta.Encode("Hello world", 3));
        Assert.Equal([0, 15500, 999, 2, 0, 15500, 2, 1], roberta.Batch(["Hello world", "Hello"], 16).InputIds.Int64Data);
    }

    [Fact]
    public void AFoldersTokenizerFilesSayHowPassagesAreFramed()
    {
        // OPT: RoBERTa's special tokens, but tokenizer_config.json puts </s> first and nothing last.
        var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Fixture("gpt2-vocab.json")))!
            .ToDictionary(p => p.Key, p => p.Value + 4);
        foreach (var (token, id) in new[] { ("<s>", 0), ("<pad>", 1), ("</s>", 2), ("<unk>", 3) }) vocabulary[token] = id;
        File.WriteAllText(Path.Combine(_folder, "vocab.json"), JsonSerializer.Serialize(vocabulary));
        File.Copy(Fixture("gpt2-merges.txt"), Path.Combine(_folder, "merges.txt"));
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"),
            """{"add_bos_token": true, "bos_token": {"content": "</s>", "lstrip": false}, "eos_token": "</s>"}""");
        var opt = TextTokenizer.Beside(Path.Combine(_folder, "model.onnx"))!;
        Assert.Equal([2, 15500, 999], opt.Encode("Hello world", 16));
        var metadata = new Dictionary<string, string>();
        opt.CarryInto(metadata);
        Assert.Equal([2, 15500, 999], TextTokenizer.FromMetadata(metadata, "model.onnx")!.Encode("Hello world", 16));
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), """{"add_bos_token": false}""");
        Assert.Equal([15500, 999], TextTokenizer.Beside(Path.Combine(_folder, "model.onnx"))!.Encode("Hello world", 16));
        // tokenizer.json's post-processor comes first: a template with GPT-2's <|endoftext|> before each passage.
        var gpt2 = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Fixture("gpt2-vocab.json")))!;
        var merges = File.ReadAllLines(Fixture("gpt2-merges.txt")).Skip(1).Where(l => l.Length > 0).ToList();
        object template = new
        {
            type = "TemplateProcessing",
            single = new object[] { new { SpecialToken = new { id = "<|endoftext|>", type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } } },
        };
        foreach (var (post, expected) in new[] { (template, new long[] { 50256, 15496, 995 }), (new { type = "ByteLevel" }, [15496, 995]) })
        {
            File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), JsonSerializer.Serialize(new
            {
                model = new { type = "BPE", vocab = gpt2, merges },
                pre_tokenizer = new { type = "ByteLevel" },
                post_processor = post,
            }));
            Assert.Equal(expected, TextTokenizer.FromVocabulary(Path.Combine(_folder, "tokenizer.json")).Encode("Hello world", 16));
        }
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), """{"add_bos_token": true, "bos_token": "<bos>"}""");
        File.Delete(Path.Combine(_folder, "tokenizer.json"));
        Assert.Contains("'<bos>' is not in the vocabulary",
            Assert.Throws<InvalidFileException>(() => TextTokenizer.FromVocabulary(Path.Combine(_folder, "vocab.json"))).Message);
    }

    [Fact]
    public void TheTablesTravelInAModelsMetadata()
    {
        var metadata = new Dictionary<string, string> { [TextTokenizer.MetadataKey] = "stale" };
        Gpt2.Value.CarryInto(metadata);
        Assert.False(metadata.ContainsKey(TextTokenizer.MetadataKey));
        var carried = TextTokenizer.FromMetadata(metadata, "model.onnx")!;
        string passage = "The quick brown fox — naïvely — jumps.";
        Assert.Equal(Gpt2.Value.Encode(passage, 64), carried.Encode(passage, 64));
        Assert.Null(TextTokenizer.FromMetadata(new Dictionary<string, string>(), "model.onnx"));
        // Beside a model: vocab.json with merges.txt.
        File.Copy(Fixture("gpt2-vocab.json"), Path.Combine(_folder, "vocab.json"));
        File.Copy(Fixture("gpt2-merges.txt"), Path.Combine(_folder, "merges.txt"));
        Assert.Equal(Gpt2.Value.Encode(passage, 64), TextTokenizer.Beside(Path.Combine(_folder, "model.onnx"))!.Encode(passage, 64));
    }

    [Fact]
    public void BatchesFeedPositionsAndAnEmptyCache()
    {
        var right = new TextBatch(Ids([5, 6, 7, 5, 6, 0]), Ids([1, 1, 1, 1, 1, 0]), Ids([0, 0, 0, 0, 0, 0]));
        Assert.Equal([0, 1, 2, 0, 1, 1], right.PositionIds().Int64Data);
        var left = right with { AttentionMask = Ids([1, 1, 1, 0, 1, 1]) };
        Assert.Equal([0, 1, 2, 1, 0, 1], left.PositionIds().Int64Data);
        var feed = right.Feed([new TextInput("input_ids", Type: DataType.Int32), new TextInput("attention_mask"), new TextInput("position_ids"),
            new TextInput("past_key_values.0.key", [-1, 4, -1, 8], DataType.Float32)]);
        Assert.Equal([0, 1, 2, 0, 1, 1], feed["position_ids"].Int64Data);
        Assert.Equal(DataType.Int32, feed["input_ids"].DataType);
        Assert.Equal([5, 6, 7, 5, 6, 0], feed["input_ids"].Int64Data);
        Assert.Equal([2, 4, 0, 8], feed["past_key_values.0.key"].Shape);
        Assert.Contains("declares no shape", Assert.Throws<CondenseException>(() => right.Feed(["past_key_values.0.key"])).Message);
        Assert.Throws<CondenseException>(() => right.Feed(["pixel_values"]));
    }

    private static Tensor Ids(long[] values) =>
        Tensor.FromInt64s(values, DataType.Int64, 2, values.Length / 2);
}
