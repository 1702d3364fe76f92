// Heads and feed-forward neurons removed physically: the narrower model computes what the original computes with
// those heads' output-projection rows (their attention output) or those neurons' narrowing rows set to zero, at
// opsets 13 and 17, with shared Reshape constants too; it exports and runs in ONNX Runtime; all-MiniLM-L6-v2 loses
// half its heads and neurons with the parameter count worked out by hand.
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Condense.Tests.Pretrained;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Transformers;

public class AttentionPruningTests
{
    private const int HeadWidth = TinyTransformer.Width / 4;

    [Theory]
    [InlineData(13, false)]
    [InlineData(17, false)]
    [InlineData(17, true)]
    public void RemovingHeadsEqualsMaskingTheirAttentionOutput(long opset, bool sharedConstants)
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(opset, layers: 2, heads: 4));
        // An optimizer that merges equal constants makes every [4] one tensor: heads, head width, other layers' reshapes.
        if (sharedConstants) model = new GraphModule(MergeEqualIntegerConstants(model.Graph));
        var layers = EncoderLayers.Find(model);
        var output = layers[0].Projections!.Output.Weight;
        var result = AttentionPruning.RemoveHeads(model, layers, new Dictionary<int, int[]> { [0] = [1, 3] });

        var masked = ZeroBlocks(model, output, HeadWidth, [1, 3]);
        AssertClose(masked.Run(Feed())["last_hidden_state"], result.Model.Run(Feed())["last_hidden_state"], 1e-5);
        var change = Assert.Single(result.Layers);
        Assert.Equal((0, 4, 2), (change.Layer, change.Before, change.After));
        Assert.Equal([1, 3], change.Removed);
        // Per head: three projections of Width·d weights and d biases, and d rows of the output projection.
        Assert.Equal(result.ParametersBefore - 2 * (3 * (TinyTransformer.Width * HeadWidth + HeadWidth) + HeadWidth * TinyTransformer.Width),
            result.ParametersAfter);
        Assert.Equal([TinyTransformer.Width, TinyTransformer.Width], model.Graph.Initializers[output].Shape);
        Assert.Equal([2, 4], EncoderLayers.Find(result.Model).Select(l => l.Heads));
        AssertMatchesOnnxRuntime(result.Model);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void RemovingNeuronsEqualsZeroingTheirOutputRows(long opset)
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(opset, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        int[] first = [0, 5, 6, 31], second = [2, 17];
        var result = AttentionPruning.RemoveNeurons(model, layers, new Dictionary<int, int[]> { [0] = first, [1] = second });

        var masked = ZeroBlocks(ZeroBlocks(model, layers[0].Projections!.FeedForwardOut.Weight, 1, first), layers[1].Projections!.FeedForwardOut.Weight, 1,
            second);
        AssertClose(masked.Run(Feed())["last_hidden_state"], result.Model.Run(Feed())["last_hidden_state"], 1e-5);
        Assert.Equal([28, 30], result.Layers.Select(l => l.After));
        Assert.Equal(result.ParametersBefore - 6 * (2 * TinyTransformer.Width + 1), result.ParametersAfter);
        Assert.Equal([TinyTransformer.Width, 28], result.Model.Graph.Initializers[layers[0].Projections!.FeedForwardIn.Weight].Shape);
        AssertMatchesOnnxRuntime(result.Model);
    }

    [Fact]
    public void AFractionRemovesTheLowestScoringHeadsAndNeuronsOfEveryLayer()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var heads = AttentionPruning.RemoveHeads(model, layers, 0.5);
        for (int k = 0; k < 2; k++)
        {
            var scores = AttentionPruning.HeadScores(model, layers[k]);
            Assert.Equal(Enumerable.Range(0, 4).OrderBy(h => scores[h]).Take(2).Order(), heads.Layers[k].Removed);
        }
        // 0.9 of 4 heads rounds to 4: one stays.
        Assert.All(AttentionPruning.RemoveHeads(model, layers, 0.9).Layers, l => Assert.Equal(1, l.After));
        var neurons = AttentionPruning.RemoveNeurons(model, layers, 0.25);
        Assert.All(neurons.Layers, l => Assert.Equal((32, 24), (l.Before, l.After)));
        var scored = AttentionPruning.NeuronScores(model, layers[1]);
        Assert.All(neurons.Layers[1].Removed, j => Assert.True(scored.Count(s => s < scored[j]) < 8));
        Assert.Contains("layer 1: 4 → 2 heads", heads.Summary());
    }

    [Fact]
    public void UnsupportedLayersAndBadIndicesAreOneLineErrors()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        CondenseException Remove(int layer, int[] heads) =>
            Assert.Throws<CondenseException>(() => AttentionPruning.RemoveHeads(model, layers, new Dictionary<int, int[]> { [layer] = heads }));
        Assert.Contains("layers 0–1", Remove(2, [0]).Message);
        Assert.Contains("heads 0–3", Remove(0, [4]).Message);
        Assert.Contains("at least one head", Remove(1, [0, 1, 2, 3]).Message);
        Assert.Throws<CondenseException>(() => AttentionPruning.RemoveNeurons(model, layers, 1.0));
    }

    [Fact]
    public void MiniLmLosesHalfItsHeadsAndNeuronsAndStillMatchesOnnxRuntime()
    {
        var model = OnnxImporter.Load(PretrainedModels.MiniLmOnnx);
        var heads = AttentionPruning.RemoveHeads(model, EncoderLayers.Find(model), 0.5);
        var neurons = AttentionPruning.RemoveNeurons(heads.Model, EncoderLayers.Find(heads.Model), 0.5);
        Assert.All(heads.Layers, l => Assert.Equal((12, 6), (l.Before, l.After)));
        Assert.All(neurons.Layers, l => Assert.Equal((1536, 768), (l.Before, l.After)));
        // 6 layers × 6 heads × (3 × (384·32 + 32) + 32·384), then 6 layers × 768 neurons × (384 + 1 + 384).
        const long headsRemoved = 6 * 6 * (3 * (384 * 32 + 32) + 32 * 384), neuronsRemoved = 6 * 768 * (384 + 1 + 384);
        Assert.Equal(heads.ParametersBefore - headsRemoved, heads.ParametersAfter);
        Assert.Equal(heads.ParametersAfter - neuronsRemoved, neurons.ParametersAfter);
        Assert.Equal([6, 6, 6, 6, 6, 6], EncoderLayers.Find(neurons.Model).Select(l => l.Heads));

        var bytes = OnnxExporter.ToBytes(neurons.Model.Graph);
        Assert.True(bytes.Length < new FileInfo(PretrainedModels.MiniLmOnnx).Length - 4 * (headsRemoved + neuronsRemoved) * 0.99,
            $"the pruned file has {bytes.Length:N0} bytes");
        long[] ids = [101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102, 0, 0, 101, 7592, 2088, 999, 102, 0, 0, 0, 0, 0, 0];
        (string, Tensor)[] inputs =
        [
            ("input_ids", Tensor.FromInt64s(ids, DataType.Int64, 2, 11)),
            ("attention_mask", Tensor.FromInt64s([.. ids.Select((id, i) => id != 0 ? 1L : 0L)], DataType.Int64, 2, 11)),
            ("token_type_ids", Tensor.FromInt64s(new long[ids.Length], DataType.Int64, 2, 11)),
        ];
        inputs = [.. inputs.Where(i => model.Graph.Inputs.Any(g => g.Name == i.Item1))];
        var expected = TypedParity.RunOnnxRuntime(global::Onnx.ModelProto.Parser.ParseFrom(bytes), inputs)["last_hidden_state"];
        var actual = neurons.Model.Run(inputs.ToDictionary(i => i.Item1, i => i.Item2))["last_hidden_state"];
        AssertClose(expected, actual, 1e-4 * expected.Data.Max(v => Math.Abs(v)));
    }

    private static Dictionary<string, Tensor> Feed() => EncoderLayersTests.Feed(2, 6, 7);

    // A copy of the model with blocks `blocks` (of `block` rows each) of weight `name` set to zero.
    private static GraphModule ZeroBlocks(GraphModule model, string name, int block, int[] blocks)
    {
        var graph = model.Graph.Clone();
        var w = graph.Initializers[name];
        int columns = w.Shape[1];
        foreach (int b in blocks) w.Data.AsSpan(b * block * columns, block * columns).Clear();
        return new GraphModule(graph);
    }

    // Every integer initializer is replaced by the first one with the same shape and values.
    private static ModelGraph MergeEqualIntegerConstants(ModelGraph original)
    {
        var graph = original.Clone();
        var first = new Dictionary<string, string>();
        var rename = new Dictionary<string, string>();
        foreach (var (name, t) in graph.Initializers.Where(i => i.Value.DataType == DataType.Int64))
        {
            string key = $"{string.Join(",", t.Shape)}:{string.Join(",", t.Int64Data)}";
            if (!first.TryAdd(key, name)) rename[name] = first[key];
        }
        foreach (var node in graph.Nodes)
            for (int i = 0; i < node.Inputs.Count; i++)
                if (rename.TryGetValue(node.Inputs[i], out var to)) node.Inputs[i] = to;
        graph.RemoveUnused();
        Assert.True(rename.Count > 10, $"only {rename.Count} constants merged");
        return graph;
    }

    private static void AssertMatchesOnnxRuntime(GraphModule model)
    {
        var feed = Feed();
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model.Graph));
        var expected = TypedParity.RunOnnxRuntime(proto, [.. feed.Select(f => (f.Key, f.Value))])["last_hidden_state"];
        AssertClose(expected, model.Run(feed)["last_hidden_state"], 1e-4);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double worst = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= tolerance, $"largest difference {worst:E2} (tolerance {tolerance:E2})");
    }
}
