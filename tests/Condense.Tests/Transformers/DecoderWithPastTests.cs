// A GPT-2 exported as Optimum exports decoders "with past" (Fixtures/onnx/export-decoder-past.py): inputs input_ids,
// attention_mask, position_ids and a key/value cache per layer, outputs logits and the grown cache. Text feeds it an
// empty cache and the positions of its tokens, tokenized by a 300-token byte-level BPE, and it computes PyTorch's logits.
// Inputs declared int32 (TensorFlow's exports) are fed int32.
using Condense.Autograd;
using Condense.Data;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Tensors;

namespace Condense.Tests.Transformers;

public sealed class DecoderWithPastTests
{
    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    // The fixture's passages, which OpenAI's GPT-2 encoder (gpt-3-encoder's Encoder.js) splits into lm.input_ids.npy's rows.
    internal static readonly string[] Passages = ["The other thing is that the cat sat on the mat.", "Hello there, and the end"];

    internal static TextTokenizer Tokenizer()
    {
        using var vocabulary = File.OpenRead(Fixture("bpe300-vocab.json"));
        using var merges = File.OpenRead(Fixture("bpe300-merges.txt"));
        return TextTokenizer.FromBpe(vocabulary, merges, "bpe300");
    }

    [Fact]
    public void TextFeedsAnEmptyCacheAndPositionsAndGetsPyTorchsLogits()
    {
        var tokenizer = Tokenizer();
        var ids = Npy.Read(Fixture("lm.input_ids.npy"));
        var mask = Npy.Read(Fixture("lm.attention_mask.npy"));
        var batch = tokenizer.Batch(Passages, 128);
        Assert.Equal(mask.ToFloat(), batch.AttentionMask.Int64Data.Select(v => (float)v));
        // The ids of real tokens are the reference encoder's (the fixture pads with another id).
        var ours = batch.InputIds.Int64Data;
        var theirs = ids.ToFloat();
        for (int i = 0; i < ours.Length; i++)
            if (batch.AttentionMask.Int64Data[i] == 1) Assert.Equal(theirs[i], ours[i]);
        var model = ModelFile.Load(Fixture("decoder-past-op14.onnx"));
        model.Eval();
        var feed = batch.Feed(model.Graph);
        feed["input_ids"] = Tensor.FromInt64s([.. theirs.Select(v => (long)v)], DataType.Int64, ids.Shape);
        Dictionary<string, Tensor> outputs;
        using (GradMode.NoGrad()) outputs = model.Run(feed);
        // Padding takes position 1 here and its index in the export: the real tokens' logits are compared.
        var expected = Npy.Read(Fixture("lm.expected.npy")).ToFloat();
        var logits = outputs["logits"];
        Assert.Equal(Npy.Read(Fixture("lm.expected.npy")).Shape, logits.Shape);
        int vocabulary = logits.Shape[2];
        float scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            if (batch.AttentionMask.Int64Data[i / vocabulary] == 1) Assert.True(Math.Abs(expected[i] - logits.Data[i]) <= 1e-5f * scale, $"logit {i}");
        // The grown cache holds the new tokens' keys: [batch, heads, tokens, head dim].
        Assert.Equal([2, 2, ids.Shape[1], 8], outputs["present.0.key"].Shape);
    }

    [Fact]
    public void AnEncoderTakingInt32IdsEmbedsAsItsInt64Export()
    {
        // The PyTorch encoder rewritten as TensorFlow exports take their inputs: int32, cast to int64 inside.
        var original = ModelFile.Load(Fixture("encoder-op14.onnx"));
        var graph = original.Graph.Clone();
        foreach (var input in graph.Inputs.ToList())
        {
            string inner = input.Name + ".int64";
            foreach (var node in graph.Nodes)
                for (int i = 0; i < node.Inputs.Count; i++) if (node.Inputs[i] == input.Name) node.Inputs[i] = inner;
            graph.Nodes.Insert(0, new Node(inner, OpTypes.Cast, [input.Name], [inner],
                new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(7) }));
            graph.Inputs[graph.Inputs.IndexOf(input)] = input with { DataType = "int32" };
        }
        var words = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat" };
        var tokenizer = TextTokenizer.FromText(string.Join('\n', words), "vocab.txt");
        string[] passages = ["the cat sat on the mat", "the mat", "cat"];
        var expected = new SentenceEmbedder(original, tokenizer).Embed(passages);
        var actual = new SentenceEmbedder(new GraphModule(graph), tokenizer).Embed(passages);
        for (int p = 0; p < passages.Length; p++) Assert.Equal(expected[p], actual[p]);
    }

    [Fact]
    public void RemovingHeadsNarrowsTheDeclaredCacheAndEqualsMaskingThem()
    {
        var model = ModelFile.Load(Fixture("decoder-past-op14.onnx"));
        model.Eval();
        var layers = EncoderLayers.Find(model, Tokenizer().Batch(Passages, 64).Feed(model.Graph));
        var result = AttentionPruning.RemoveHeads(model, layers, new Dictionary<int, int[]> { [0] = [1], [1] = [0] });
        // Each layer's cache is declared with its one head left, past and present.
        foreach (var value in result.Model.Graph.Inputs.Concat(result.Model.Graph.Outputs).Where(v => v.Shape.Length == 4))
            Assert.Equal(1, value.Shape[1]);
        // The output projection is a MatMul by an [in, out] weight: head h is its rows 8h … 8h + 7.
        var masked = model.Graph.Clone();
        foreach (var (layer, head) in new[] { (0, 1), (1, 0) })
            masked.Initializers[layers[layer].Projections!.Output.Weight].Data.AsSpan(head * 8 * 16, 8 * 16).Clear();
        var batch = Tokenizer().Batch(Passages, 64);
        Tensor Logits(GraphModule m)
        {
            m.Eval();
            using (GradMode.NoGrad()) return m.Run(batch.Feed(m.Graph))["logits"];
        }
        Graph.TensorAsserts.Close(Logits(new GraphModule(masked)), Logits(result.Model), 1e-5f);
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(Condense.Onnx.OnnxExporter.ToBytes(result.Model.Graph));
        var ort = Onnx.TypedParity.RunOnnxRuntime(proto, [.. batch.Feed(result.Model.Graph).Select(f => (f.Key, f.Value))])["logits"];
        Graph.TensorAsserts.Close(ort, Logits(result.Model), 1e-4f);
    }
}
