// WordPiece tokenization with all-MiniLM-L6-v2's vocabulary (BERT uncased): known ids, accents stripped as Hugging Face's
// tokenizers strip them (Fixtures/text/wordpiece-accents-expected.json, from encode-wordpiece-accents.js), truncation
// keeping [CLS] and [SEP], dynamic padding with the attention mask, inputs fed by role, and bad vocabularies refused.
using System.Text;
using Condense.Data.Text;
using Condense.Tests.Pretrained;

namespace Condense.Tests.Data.Text;

public class TextTokenizerTests
{
    private static readonly Lazy<TextTokenizer> MiniLm = new(() => TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary));

    [Fact]
    public void HelloWorldHasTheIdsOfBertUncased()
    {
        Assert.True(MiniLm.Value.LowerCase);
        Assert.Equal(30522, MiniLm.Value.VocabularySize);
        Assert.Equal([101, 7592, 2088, 102], MiniLm.Value.Encode("hello world", 128));
        Assert.Equal([101, 7592, 2088, 102], MiniLm.Value.Encode("Hello WORLD", 128));
    }

    [Fact]
    public void AccentsAreStrippedAsHuggingFacesTokenizersStripThem()
    {
        var expected = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "text",
            "wordpiece-accents-expected.json")))!;
        var passages = expected["passages"]!.AsArray().Select(p => (string)p!).ToList();
        for (int i = 0; i < passages.Count; i++)
        {
            var ids = expected["ids"]![i]!.AsArray().Select(id => (long)id!).ToList();
            Assert.Equal([101, .. ids, 102], MiniLm.Value.Encode(passages[i], 512));
        }
        // "café" is the word "cafe" (7668), not [UNK] (100); Korean syllables become their jamo.
        Assert.Equal([101, 7668, 102], MiniLm.Value.Encode("Café", 16));
        Assert.DoesNotContain(100L, MiniLm.Value.Encode("José Núñez moved to Zürich", 32));
    }

    [Fact]
    public void TruncationKeepsClsAndSep()
    {
        var full = MiniLm.Value.Encode("the quick brown fox jumps over the lazy dog", 128);
        Assert.Equal(11, full.Length);
        Assert.Equal([.. full[..4], 102], MiniLm.Value.Encode("the quick brown fox jumps over the lazy dog", 5));
        Assert.Throws<CondenseException>(() => MiniLm.Value.Encode("x", 2));
    }

    [Fact]
    public void BatchesPadToTheLongestPassageWithAMask()
    {
        var batch = MiniLm.Value.Batch(["hello world", "hello"], 128);
        Assert.Equal([2, 4], batch.InputIds.Shape);
        Assert.Equal([101, 7592, 2088, 102, 101, 7592, 102, 0], batch.InputIds.Int64Data);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 0], batch.AttentionMask.Int64Data);
        Assert.All(batch.TokenTypeIds.Int64Data, v => Assert.Equal(0, v));
        var feed = batch.Feed(["input_ids", "attention_mask", "token_type_ids"]);
        Assert.Same(batch.AttentionMask, feed["attention_mask"]);
        Assert.Same(batch.TokenTypeIds, feed["token_type_ids"]);
        Assert.Throws<CondenseException>(() => batch.Feed(["pixel_values"]));
    }

    [Fact]
    public void ACasedVocabularyKeepsCase()
    {
        var tokenizer = Vocabulary("[PAD]", "[UNK]", "[CLS]", "[SEP]", "Hello", "hello", "world", "[MASK]");
        Assert.False(tokenizer.LowerCase);
        Assert.Equal([2, 4, 6, 3], tokenizer.Encode("Hello world", 16));
        Assert.Equal([2, 5, 6, 3], tokenizer.Encode("hello world", 16));
    }

    [Fact]
    public void BadVocabulariesAreRefused()
    {
        Assert.Contains("no [CLS] token", Assert.Throws<InvalidFileException>(() => Vocabulary("[PAD]", "[UNK]", "[SEP]", "[MASK]", "a")).Message);
        Assert.Contains("line 3 is blank", Assert.Throws<InvalidFileException>(() => Vocabulary("[PAD]", "[UNK]", "", "[CLS]", "[SEP]", "[MASK]")).Message);
    }

    private static TextTokenizer Vocabulary(params string[] tokens) =>
        TextTokenizer.FromVocabulary(new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', tokens) + "\n")), "vocab.txt");
}
