// An encoder exported with its pooling (sentence-transformers' mean pooling and normalisation inside the graph, output
// sentence_embedding [batch, dim]) is used as it is: its embeddings are those mean pooling gives the same encoder exported
// without it (Fixtures/onnx/README.md: same weights), and it distils into a shallower student that pools itself too.
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;

namespace Condense.Tests.Transformers;

public class PooledEncoderTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    // The fixtures' vocabulary has 100 ids: the special tokens and 95 short words.
    private static TextTokenizer Tokenizer() => TextTokenizer.FromText(string.Join("\n",
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", .. Enumerable.Range(0, 95).Select(i => $"{(char)('a' + i % 26)}{i / 26}")]), "tiny vocabulary");

    private static readonly string[] Passages =
        ["a0 b0 c0", "d1 e1 f1 g1 h1 i1", "z0 y0", "a2 b2 c2 d2 e2 f2 g2 h2 i2 j2 k2", "q3 r3 s3", "m0 n1 o2 p3 a0 b0 c0 d1"];

    [Fact]
    public void APooledExportEmbedsAsMeanPoolingOfTheSameEncoder()
    {
        var tokenizer = Tokenizer();
        var expected = new SentenceEmbedder(ModelFile.Load(Fixture("encoder-op14.onnx")), tokenizer).Embed(Passages);
        var pooled = new SentenceEmbedder(ModelFile.Load(Fixture("encoder-pooled-op14.onnx")), tokenizer);
        Assert.Equal(Pooling.None, pooled.Options.Pooling);
        var actual = pooled.Embed(Passages);
        for (int p = 0; p < Passages.Length; p++)
            for (int d = 0; d < expected[p].Length; d++) Assert.Equal(expected[p][d], actual[p][d], 5);
    }

    [Fact]
    public void APooledTeacherDistilsIntoAStudentThatPoolsItself()
    {
        var teacher = ModelFile.Load(Fixture("encoder-pooled-op14.onnx"));
        var student = LayerDropping.KeepLayers(teacher, EncoderLayers.Find(teacher), [1]);
        var passages = Enumerable.Range(0, 64)
            .Select(i => string.Join(' ', Enumerable.Range(0, 3 + i % 7).Select(k => $"{(char)('a' + (i * 7 + k) % 26)}{k % 3}"))).ToList();
        var tokenizer = Tokenizer();
        var epochs = TextDistiller.Distill(student, teacher, tokenizer, passages,
            new TextDistillOptions { Epochs = 4, BatchSize = 16, LearningRate = 3e-3f, WarmupFraction = 0 });
        Assert.All(epochs, e => Assert.True(double.IsFinite(e.Loss)));
        Assert.True(epochs[^1].Loss < epochs[0].Loss, $"loss {epochs[0].Loss} → {epochs[^1].Loss}");
    }
}
