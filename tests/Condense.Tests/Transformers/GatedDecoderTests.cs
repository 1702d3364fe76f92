// A Llama-style decoder (Fixtures/onnx/llama-op14.onnx, exported by PyTorch after Hugging Face's modeling_llama):
// RMSNorm, rotary positions, grouped-query attention, the softmax run in float32 and cast back, and a SwiGLU
// feed-forward block down(silu(gate(x)) · up(x)). It imports with PyTorch's logits; its layers are found through the
// Casts after the softmax, with the gate and up projections both widening; removing feed-forward neurons cuts both
// and equals the original with those neurons' rows of the down projection set to zero, and ONNX Runtime runs the result;
// its heads, which share key/value heads, go by whole groups (a key/value head with its query heads), equal to masking
// those query heads' attention output.
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Transformers;

public sealed class GatedDecoderTests
{
    private const int Width = 16, FeedForward = 32;

    // The fixtures' ids and mask, with Hugging Face's position ids for a padded batch: cumsum(mask) − 1, clamped at 0.
    private static Dictionary<string, Tensor> Feed()
    {
        var feed = PyTorchFixtures.EncoderFeed();
        var mask = feed["attention_mask"];
        var positions = new long[mask.Size];
        for (int b = 0; b < mask.Shape[0]; b++)
            for (int t = 0, seen = 0; t < mask.Shape[1]; t++)
                positions[b * mask.Shape[1] + t] = Math.Max(0, (seen += (int)mask.Int64Data[b * mask.Shape[1] + t]) - 1);
        feed["position_ids"] = Tensor.FromInt64s(positions, DataType.Int64, mask.Shape);
        return feed;
    }

    private static Tensor Logits(GraphModule model) => model.Run(Feed())["logits"];

    [Fact]
    public void NeuronsOfAGatedFeedForwardBlockAreRemovedFromGateAndUpTogether()
    {
        var model = PyTorchFixtures.Load("llama-op14.onnx", "llama.expected.npy", Logits, 1e-4f);

        var layers = EncoderLayers.Find(model);
        Assert.Equal([4, 4], layers.Select(l => l.Heads));
        var roles = layers.Select(l => l.Projections!).ToList();
        var index = new GraphIndex(model.Graph);
        foreach (var role in roles)
        {
            // The gate is the projection whose output passes the SiLU (x · sigmoid(x)) before the product.
            Assert.NotNull(role.FeedForwardGate);
            Assert.Contains(index.ConsumersOf(role.FeedForwardGate!.Node.Outputs[0]), c => c.OpType == OpTypes.Sigmoid);
            Assert.DoesNotContain(index.ConsumersOf(role.FeedForwardIn.Node.Outputs[0]), c => c.OpType == OpTypes.Sigmoid);
            Assert.Equal([FeedForward, Width], model.Graph.Initializers[role.FeedForwardOut.Weight].Shape);
        }

        int[] first = [1, 5, 7], second = [0, 31];
        var result = AttentionPruning.RemoveNeurons(model, layers, new Dictionary<int, int[]> { [0] = first, [1] = second });
        var masked = model.Graph.Clone();
        foreach (var (layer, neurons) in new[] { (0, first), (1, second) })
            foreach (int n in neurons) masked.Initializers[roles[layer].FeedForwardOut.Weight].Data.AsSpan(n * Width, Width).Clear();
        var cut = Logits(result.Model);
        Graph.TensorAsserts.Close(Logits(new GraphModule(masked)), cut, 1e-5f);
        Assert.Equal(result.ParametersBefore - 5 * 3 * Width, result.ParametersAfter);
        foreach (var weight in new[] { roles[0].FeedForwardGate!.Weight, roles[0].FeedForwardIn.Weight })
            Assert.Equal([Width, FeedForward - 3], result.Model.Graph.Initializers[weight].Shape);
        // A cut that left the gate whole would not run: so the result both runs and equals the mask in ONNX Runtime.
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(result.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [.. Feed().Select(f => (f.Key, f.Value))])["logits"];
        Graph.TensorAsserts.Close(ort, cut, 1e-4f);

        // Scores multiply the three norms: the gate's matters.
        var scores = AttentionPruning.NeuronScores(model, layers[0]);
        var gate = model.Graph.Clone();
        gate.Initializers[roles[0].FeedForwardGate!.Weight].Data.AsSpan().Clear();
        Assert.All(AttentionPruning.NeuronScores(new GraphModule(gate), EncoderLayers.Find(new GraphModule(gate))[0]), s => Assert.Equal(0, s));
        Assert.All(scores, s => Assert.True(s > 0));
    }

    [Fact]
    public void HeadsSharingKeyValueHeadsGoByWholeGroups()
    {
        var model = ModelFile.Load(PyTorchFixtures.Path("llama-op14.onnx"));
        var layers = EncoderLayers.Find(model);
        Assert.All(layers, l => Assert.Equal(2, AttentionPruning.KeyValueHeads(model.Graph, l)));
        // Group 1 of layer 0 (query heads 2 and 3 with key/value head 1), group 0 of layer 1 (heads 0 and 1).
        var remove = new Dictionary<int, int[]> { [0] = [2, 3], [1] = [0, 1] };
        var result = AttentionPruning.RemoveHeads(model, layers, remove);
        var cut = Logits(result.Model);
        Graph.TensorAsserts.Close(Logits(HeadBiasTests.Masked(model, layers, remove, headWidth: Width / 4, width: Width)), cut, 1e-5f);
        var roles = layers[0].Projections!;
        var query = roles.QueryKey.MaxBy(p => model.Graph.Initializers[p.Weight].Shape[1])!;
        var key = roles.QueryKey.MinBy(p => model.Graph.Initializers[p.Weight].Shape[1])!;
        Assert.Equal([Width, Width / 2], result.Model.Graph.Initializers[query.Weight].Shape);
        Assert.Equal([Width, Width / 4], result.Model.Graph.Initializers[key.Weight].Shape);
        Assert.Equal([Width, Width / 4], result.Model.Graph.Initializers[roles.Value.Weight].Shape);
        Assert.Equal([Width / 2, Width], result.Model.Graph.Initializers[roles.Output.Weight].Shape);
        Assert.Equal([2, 2], EncoderLayers.Find(result.Model).Select(l => l.Heads));
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(result.Model.Graph));
        Graph.TensorAsserts.Close(TypedParity.RunOnnxRuntime(proto, [.. Feed().Select(f => (f.Key, f.Value))])["logits"], cut, 1e-4f);

        // By score, half of the groups go; a query head alone cannot.
        Assert.Equal([2, 2], AttentionPruning.RemoveHeads(model, layers, 0.5).Layers.Select(l => l.After));
        var error = Assert.Throws<CondenseException>(() => AttentionPruning.RemoveHeads(model, layers, new Dictionary<int, int[]> { [0] = [1] })).Message;
        Assert.Contains("remove whole groups (heads 0–1 together)", error);
        Assert.DoesNotContain('\n', error);
        // Whole layers go as in any decoder: one layer left, and it runs.
        var one = LayerDropping.KeepLayers(model, layers, [1]);
        Assert.Single(EncoderLayers.Find(one));
        Assert.Equal([2, 7, 100], Logits(one).Shape);
    }
}
