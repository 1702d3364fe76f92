// A GPT-NeoX (Pythia) style decoder (Fixtures/onnx/neox-op14.onnx, exported by PyTorch after Hugging Face's
// modeling_gpt_neox), whose blocks are parallel: mlp(ln₂ x) + attn(ln₁ x) + x, the MLP's output added first. Its layers
// start at the residual stream, not at the MLP's output; dropping the first layer gives PyTorch's own logits of the
// network without it (neox.layer1.expected.npy). Its query, key and value come from one projection laid out head by head
// ([heads, 3, head width]); heads and the MLP's neurons removed equal the original with their outputs masked (the output
// projection's rows, the second MLP layer's rows set to zero), and ONNX Runtime runs the result.
using Condense.Data;
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Transformers;

public sealed class ParallelBlockTests
{
    private static Dictionary<string, Tensor> Feed() => PyTorchFixtures.EncoderFeed();

    private static Tensor Logits(GraphModule model) => model.Run(Feed())["logits"];

    [Fact]
    public void LayersOfParallelBlocksStartAtTheStreamAndDropAsPyTorchDropsThem()
    {
        var model = PyTorchFixtures.Load("neox-op14.onnx", "neox.expected.npy", Logits, 1e-4f);
        var layers = EncoderLayers.Find(model);
        Assert.Equal(2, layers.Count);
        // Layer 0 reads the token embeddings; layer 1 reads layer 0's output, the sum of its three terms.
        Assert.Equal(OpTypes.Gather, model.Graph.Producer(layers[0].Input)!.OpType);
        Assert.Equal(layers[0].Output, layers[1].Input);
        // Both branches belong to the layer: its MLP's weights as well as its attention's.
        Assert.Equal(4, layers[0].Nodes.Count(n => model.Graph.Nodes.Single(m => m.Name == n).OpType == OpTypes.MatMul
            && model.Graph.Initializers.ContainsKey(model.Graph.Nodes.Single(m => m.Name == n).Inputs[1])));

        var second = LayerDropping.KeepLayers(model, layers, [1]);
        var expected = Npy.Read(PyTorchFixtures.Path("neox.layer1.expected.npy"));
        Graph.TensorAsserts.Close(new Tensor(expected.ToFloat(), expected.Shape), Logits(second), 1e-4f);
    }

    [Fact]
    public void HeadsOfAPerHeadFusedProjectionAndNeuronsBesideTheAttentionAreRemovedAsMasked()
    {
        var model = PyTorchFixtures.Load("neox-op14.onnx", "neox.expected.npy", Logits, 1e-4f);
        var layers = EncoderLayers.Find(model);
        var roles = layers[0].Projections!;
        Assert.True(roles.FusedPerHead);
        Assert.Same(roles.QueryKey.Single(), roles.Value);
        Assert.Equal([16, 64], model.Graph.Initializers[roles.FeedForwardIn.Weight].Shape);
        Assert.Equal([64, 16], model.Graph.Initializers[roles.FeedForwardOut.Weight].Shape);

        var heads = new Dictionary<int, int[]> { [0] = [1], [1] = [0, 3] };
        var cut = AttentionPruning.RemoveHeads(model, layers, heads);
        Graph.TensorAsserts.Close(Logits(HeadBiasTests.Masked(model, layers, heads)), Logits(cut.Model), 1e-5f);
        // Head h is columns 12h … 12h + 11 of the fused [16, 48] weight: three heads keep 36.
        Assert.Equal([16, 36], cut.Model.Graph.Initializers[roles.Value.Weight].Shape);
        AssertOnnxRuntime(cut.Model);

        var neurons = new Dictionary<int, int[]> { [0] = [0, 5, 63], [1] = [7] };
        var narrow = AttentionPruning.RemoveNeurons(model, layers, neurons);
        var masked = model.Graph.Clone();
        foreach (var (layer, removed) in neurons)
            foreach (int n in removed) masked.Initializers[layers[layer].Projections!.FeedForwardOut.Weight].Data.AsSpan(n * 16, 16).Clear();
        Graph.TensorAsserts.Close(Logits(new GraphModule(masked)), Logits(narrow.Model), 1e-5f);
        AssertOnnxRuntime(narrow.Model);
    }

    private static void AssertOnnxRuntime(GraphModule model)
    {
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model.Graph));
        Graph.TensorAsserts.Close(TypedParity.RunOnnxRuntime(proto, [.. Feed().Select(f => (f.Key, f.Value))])["logits"], Logits(model), 1e-4f);
    }
}
