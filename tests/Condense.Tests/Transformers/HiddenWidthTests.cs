// A narrower residual stream: every tensor the channels index is sliced (shapes and parameters worked out by hand),
// the embeddings before their layer norm are the teacher's kept channels exactly, the added projection puts each kept
// channel back at its place, the model exports and matches ONNX Runtime at opsets 13 and 17 (a pre-norm decoder
// too), bad widths are one-line errors, and all-MiniLM-L6-v2 narrows to 256 with its parameters counted by hand.
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Condense.Tests.Pretrained;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Transformers;

public class HiddenWidthTests
{
    private const int D = TinyTransformer.Width, Kept = 10;

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void EveryTensorTheChannelsIndexIsSliced(long opset)
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(opset, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var result = HiddenWidth.Shrink(model, layers, Kept);
        var graph = result.Model.Graph;
        int[] Shape(string name) => graph.Initializers[name].Shape;

        Assert.Equal((D, Kept), (result.Before, result.After));
        foreach (var roles in layers.Select(l => l.Projections!))
        {
            foreach (var reader in roles.QueryKey.Append(roles.Value))
            {
                Assert.Equal([Kept, D], Shape(reader.Weight));
                Assert.Equal([D], Shape(reader.Bias!));
            }
            Assert.Equal([D, Kept], Shape(roles.Output.Weight));
            Assert.Equal([Kept], Shape(roles.Output.Bias!));
            Assert.Equal([Kept, TinyTransformer.Hidden], Shape(roles.FeedForwardIn.Weight));
            Assert.Equal([TinyTransformer.Hidden], Shape(roles.FeedForwardIn.Bias!));
            Assert.Equal([TinyTransformer.Hidden, Kept], Shape(roles.FeedForwardOut.Weight));
            Assert.Equal([Kept], Shape(roles.FeedForwardOut.Bias!));
        }
        var tables = graph.Nodes.Where(n => n.OpType == OpTypes.Gather && graph.Initializers.ContainsKey(n.Inputs[0])).Select(n => n.Inputs[0]).ToList();
        Assert.Equal([[TinyTransformer.Vocab, Kept], [TinyTransformer.MaxLength, Kept]], tables.Select(Shape));
        var word = model.Graph.Initializers[tables[0]];
        var columns = Enumerable.Range(0, TinyTransformer.Vocab * Kept).Select(i => word.Data[i / Kept * D + result.Kept[i % Kept]]);
        Assert.Equal(columns, graph.Initializers[tables[0]].Data);
        // Five layer norms (embeddings, two per layer), each a gamma and a beta.
        var norms = LayerNormParameters(graph);
        Assert.Equal(10, norms.Count);
        Assert.All(norms, name => Assert.Equal([Kept], Shape(name)));
        Assert.Equal([Kept, D], Shape("last_hidden_state/widen.weight"));
        Assert.Equal([D], Shape("last_hidden_state/widen.bias"));

        // Per channel: embeddings 50 + 16, layer norms 2 each, per layer Q/K/V rows 3·16, output columns 16 + 1,
        // feed-forward-in rows 32, feed-forward-out columns 32 + 1; then the projection, Kept·D + D.
        const int perChannel = TinyTransformer.Vocab + TinyTransformer.MaxLength + 5 * 2 + 2 * (3 * D + D + 1 + TinyTransformer.Hidden * 2 + 1);
        Assert.Equal(result.ParametersBefore - (D - Kept) * perChannel + Kept * D + D, result.ParametersAfter);
        Assert.Equal(result.ParametersAfter, result.Model.ParameterCount());
        Assert.Contains($"hidden width {D} → {Kept}", result.Summary());
        // The teacher is unchanged.
        Assert.Equal([TinyTransformer.Vocab, D], model.Graph.Initializers[tables[0]].Shape);
    }

    [Fact]
    public void ChannelsAreKeptByTheirLayerNormEnergy()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var scores = HiddenWidth.ChannelScores(model, layers);
        var expected = new double[D];
        foreach (var name in LayerNormParameters(model.Graph))
            for (int c = 0; c < D; c++) expected[c] += Math.Pow(model.Graph.Initializers[name].Data[c], 2);
        for (int c = 0; c < D; c++) Assert.Equal(expected[c], scores[c], 1e-9);
        var strongest = Enumerable.Range(0, D).OrderByDescending(c => scores[c]).Take(Kept).Order();
        Assert.Equal(strongest, HiddenWidth.Shrink(model, layers, Kept).Kept);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void TheEmbeddingsAreExactAndTheProjectionPutsChannelsBack(long opset)
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(opset, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(teacher);
        int[] keep = [0, 2, 3, 5, 8, 9, 11, 12, 14, 15];
        var result = HiddenWidth.Shrink(teacher, layers, keep);
        var feed = EncoderLayersTests.Feed(2, 6, 11);
        string embeddings = PreNormInput(teacher.Graph, layers[0].Input);
        var theirs = teacher.Run(feed)[embeddings];
        var values = result.Model.Run(feed);
        var ours = values[embeddings];
        Assert.Equal([2, 6, Kept], ours.Shape);
        Assert.Equal(Enumerable.Range(0, ours.Size).Select(i => theirs.Data[i / Kept * D + keep[i % Kept]]), ours.Data);

        // At initialisation the output is the narrow stream with each channel at its old place, zeros elsewhere.
        var narrow = values["last_hidden_state/narrow"];
        var output = values["last_hidden_state"];
        Assert.Equal([2, 6, D], output.Shape);
        for (int i = 0; i < output.Size; i++)
        {
            int slot = Array.IndexOf(keep, i % D);
            Assert.Equal(slot < 0 ? 0f : narrow.Data[i / D * Kept + slot], output.Data[i], 1e-6f);
        }
        // Every layer norm now normalises over fewer channels: the output is not the teacher's.
        Assert.NotEqual(teacher.Run(feed)["last_hidden_state"].Data[keep[0]], output.Data[keep[0]]);
        AssertMatchesOnnxRuntime(result.Model, "last_hidden_state", feed);
    }

    [Fact]
    public void APreNormDecoderNarrowsAndItsLogitsKeepTheirWidth()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Decoder(17));
        var result = HiddenWidth.Shrink(model, EncoderLayers.Find(model), 12);
        // No graph output is a stream value: the head reads 12 channels and no projection is added.
        Assert.DoesNotContain(result.Model.Graph.Initializers.Keys, k => k.Contains("widen"));
        var feed = new Dictionary<string, Tensor> { ["input_ids"] = EncoderLayersTests.Feed(2, 6, 3)["input_ids"] };
        Assert.Equal([2, 6, TinyTransformer.Vocab], result.Model.Run(feed)["logits"].Shape);
        AssertMatchesOnnxRuntime(result.Model, "logits", feed);
    }

    [Fact]
    public void BadWidthsAreOneLineErrors()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        foreach (int width in new[] { D, D + 1, 0, -3 })
        {
            var message = Assert.Throws<CondenseException>(() => HiddenWidth.Shrink(model, layers, width)).Message;
            Assert.Contains($"1–{D - 1}", message);
            Assert.DoesNotContain('\n', message);
        }
        Assert.Contains("no channel 16", Assert.Throws<CondenseException>(() => HiddenWidth.Shrink(model, layers, [0, 16])).Message);
        Assert.Contains("once", Assert.Throws<CondenseException>(() => HiddenWidth.Shrink(model, layers, [1, 1])).Message);
        Assert.Throws<CondenseException>(() => HiddenWidth.Shrink(model, [], 8));
    }

    [Fact]
    public void MiniLmNarrowsTo256AndStillMatchesOnnxRuntime()
    {
        var model = OnnxImporter.Load(PretrainedModels.MiniLmOnnx);
        var result = HiddenWidth.Shrink(model, EncoderLayers.Find(model), 256);
        // Per channel: word, position and token-type tables (30 522 + 512 + 2), 13 layer norms × 2, per layer Q/K/V rows
        // 3 · 384, output columns 384 + 1, feed-forward-in rows 1536, feed-forward-out columns 1536 + 1; the pooler's
        // input columns 384. Then the projection 256 · 384 + 384.
        const long perChannel = 30522 + 512 + 2 + 13 * 2 + 6 * (3 * 384 + 385 + 1536 + 1537) + 384;
        Assert.Equal(result.ParametersBefore - 128 * perChannel + 256 * 384 + 384, result.ParametersAfter);
        var roles = EncoderLayers.Find(result.Model)[0].Projections!;
        Assert.Equal([256, 384], result.Model.Graph.Initializers[roles.Value.Weight].Shape);

        long[] ids = [101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102, 0, 0, 101, 7592, 2088, 999, 102, 0, 0, 0, 0, 0, 0];
        var feed = new Dictionary<string, Tensor>
        {
            ["input_ids"] = Tensor.FromInt64s(ids, DataType.Int64, 2, 11),
            ["attention_mask"] = Tensor.FromInt64s([.. ids.Select(id => id != 0 ? 1L : 0L)], DataType.Int64, 2, 11),
            ["token_type_ids"] = Tensor.FromInt64s(new long[ids.Length], DataType.Int64, 2, 11),
        };
        var output = AssertMatchesOnnxRuntime(result.Model, "last_hidden_state", feed, relative: true);
        Assert.Equal([2, 11, 384], output.Shape);
    }

    // Gamma and beta of every layer norm: LayerNormalization's inputs, or the Mul and Add after a decomposition's Div.
    private static List<string> LayerNormParameters(ModelGraph graph)
    {
        var names = new List<string>();
        foreach (var node in graph.Nodes)
            if (node.OpType == OpTypes.LayerNormalization) names.AddRange(node.Inputs.Skip(1));
            else if (node.OpType == OpTypes.Div && graph.Nodes.Any(n => n.OpType == OpTypes.Sub && n.Outputs[0] == node.Inputs[0]))
            {
                var mul = graph.Nodes.Single(n => n.OpType == OpTypes.Mul && n.Inputs[0] == node.Outputs[0]);
                var add = graph.Nodes.Single(n => n.OpType == OpTypes.Add && n.Inputs[0] == mul.Outputs[0]);
                names.Add(mul.Inputs[1]);
                names.Add(add.Inputs[1]);
            }
        return names;
    }

    // The value the embeddings' layer norm normalises: LayerNormalization's input, or what a decomposition's first ReduceMean reads.
    private static string PreNormInput(ModelGraph graph, string normalized)
    {
        var norm = graph.Producer(normalized)!;
        return norm.OpType == OpTypes.LayerNormalization ? norm.Inputs[0] : graph.Nodes.First(n => n.OpType == OpTypes.ReduceMean).Inputs[0];
    }

    private static Tensor AssertMatchesOnnxRuntime(GraphModule model, string output, Dictionary<string, Tensor> feed, bool relative = false)
    {
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model.Graph));
        var expected = TypedParity.RunOnnxRuntime(proto, [.. feed.Select(f => (f.Key, f.Value))])[output];
        var actual = model.Run(feed)[output];
        Assert.Equal(expected.Shape, actual.Shape);
        double worst = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max();
        double tolerance = 1e-4 * (relative ? expected.Data.Max(v => Math.Abs(v)) : 1);
        Assert.True(worst <= tolerance, $"largest difference {worst:E2} (tolerance {tolerance:E2})");
        return actual;
    }
}
