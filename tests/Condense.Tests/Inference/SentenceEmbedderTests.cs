// Sentence embeddings: mean and [CLS] pooling and L2 normalisation against a hand computation on a tiny graph whose
// token states are known, order kept through length-sorted batches; and all-MiniLM-L6-v2's embeddings of real
// passages against ONNX Runtime's token states pooled the same way.
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Condense.Tests.Pretrained;

namespace Condense.Tests.Inference;

public class SentenceEmbedderTests
{
    private static readonly Lazy<TextTokenizer> Tokenizer = new(() => TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary));

    // last_hidden_state[b, t, :] = id[b, t] · (1, 2, −1): every token state is known from its id.
    private static GraphModule TinyEncoder()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("input_ids", [-1, -1]) { DataType = "int64" });
        graph.Inputs.Add(new ValueInfo("attention_mask", [-1, -1]) { DataType = "int64" });
        graph.Initializers["axes"] = Tensor.FromInt64s([2], DataType.Int64, 1);
        graph.Initializers["direction"] = new Tensor([1f, 2f, -1f], 3);
        graph.Nodes.Add(new Node("cast", OpTypes.Cast, ["input_ids"], ["ids"], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }));
        graph.Nodes.Add(new Node("unsqueeze", OpTypes.Unsqueeze, ["ids", "axes"], ["column"]));
        graph.Nodes.Add(new Node("scale", OpTypes.Mul, ["column", "direction"], ["last_hidden_state"]));
        graph.Outputs.Add(new ValueInfo("last_hidden_state", [-1, -1, 3]));
        return new GraphModule(graph);
    }

    [Fact]
    public void MeanPoolingAveragesTheMaskedTokensAndNormalizes()
    {
        string[] passages = ["hello world", "hello", "the quick brown fox"];
        var raw = new SentenceEmbedder(TinyEncoder(), Tokenizer.Value, new EmbeddingOptions(BatchSize: 2, Normalize: false)).Embed(passages);
        var unit = new SentenceEmbedder(TinyEncoder(), Tokenizer.Value, new EmbeddingOptions(BatchSize: 2)).Embed(passages);
        for (int p = 0; p < passages.Length; p++)
        {
            var ids = Tokenizer.Value.Encode(passages[p], 128);
            double mean = ids.Average();
            Assert.Equal([(float)mean, (float)(2 * mean), (float)-mean], raw[p]);
            double norm = Math.Sqrt(6) * mean;
            Assert.Equal([(float)(mean / norm), (float)(2 * mean / norm), (float)(-mean / norm)], unit[p]);
        }
    }

    [Fact]
    public void ClsPoolingTakesTheFirstToken()
    {
        var cls = new SentenceEmbedder(TinyEncoder(), Tokenizer.Value, new EmbeddingOptions(Pooling: Pooling.Cls, Normalize: false)).Embed(["hello"]);
        Assert.Equal([101f, 202f, -101f], cls[0]);
    }

    [Fact]
    public void MiniLmEmbeddingsMatchOnnxRuntimePooledByHand()
    {
        var passages = TextPassages.Read(Condense.Tests.Data.TestFiles.Fortunes).Take(6).ToList();
        var model = new GraphModule(Condense.Onnx.OnnxImporter.Import(PretrainedModels.MiniLmOnnx));
        var ours = new SentenceEmbedder(model, Tokenizer.Value, new EmbeddingOptions(BatchSize: 4)).Embed(passages);
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(PretrainedModels.MiniLmOnnx));
        for (int p = 0; p < passages.Count; p++)
        {
            var batch = Tokenizer.Value.Batch([passages[p]], 128);
            var feed = batch.Feed(proto.Graph.Input.Select(i => i.Name)).Select(kv => (kv.Key, kv.Value)).ToArray();
            var states = TypedParity.RunOnnxRuntime(proto, feed)["last_hidden_state"];
            int tokens = states.Shape[1], dim = states.Shape[2];
            var mean = Enumerable.Range(0, dim).Select(d => Enumerable.Range(0, tokens).Average(t => (double)states.Data[t * dim + d])).ToArray();
            double norm = Math.Sqrt(mean.Sum(v => v * v));
            for (int d = 0; d < dim; d++)
                Assert.True(Math.Abs(mean[d] / norm - ours[p][d]) < 1e-4, $"passage {p}, dimension {d}: {ours[p][d]} vs {mean[d] / norm}");
        }
    }

    // The batches cut from sorted lengths are the cheapest (padded tokens + 16 per call) of all ways to cut them into runs
    // of at most batchSize: every cut enumerated on short lists.
    [Theory]
    [InlineData(new[] { 11, 14, 15, 16, 17, 20, 23, 26, 29, 32, 78, 94, 116, 128, 128 }, 4)]
    [InlineData(new[] { 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 }, 3)]
    [InlineData(new[] { 3, 40, 41, 42, 120, 121, 122, 128 }, 8)]
    public void LengthBatchesAreTheCheapestCut(int[] lengths, int batchSize)
    {
        static long Cost(IReadOnlyList<(int Start, int Count)> batches, int[] lengths) =>
            batches.Sum(b => (long)b.Count * lengths[b.Start + b.Count - 1] + 16);
        var batches = SentenceEmbedder.LengthBatches(lengths, batchSize);
        Assert.Equal(Enumerable.Range(0, lengths.Length), batches.SelectMany(b => Enumerable.Range(b.Start, b.Count)));
        Assert.All(batches, b => Assert.InRange(b.Count, 1, batchSize));
        long best = long.MaxValue;
        for (int mask = 0; mask < 1 << (lengths.Length - 1); mask++)
        {
            var cut = new List<(int, int)>();
            int start = 0;
            for (int i = 1; i <= lengths.Length; i++)
                if (i == lengths.Length || (mask >> (i - 1) & 1) == 1)
                {
                    cut.Add((start, i - start));
                    start = i;
                }
            if (cut.All(b => b.Item2 <= batchSize)) best = Math.Min(best, Cost(cut, lengths));
        }
        Assert.Equal(best, Cost(batches, lengths));
    }
}
