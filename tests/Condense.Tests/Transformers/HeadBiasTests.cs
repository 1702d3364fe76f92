// Heads removed from an MPNet-style encoder (Fixtures/onnx/relbias-op14.onnx, exported by PyTorch after Hugging Face's
// modeling_mpnet): its relative-position bias table [32 buckets, 4 heads] is computed once and added to every layer's
// scores. With different heads removed in each layer, each layer gets the table cut to its own heads; the oracle is the
// original with those heads' output-projection rows set to zero (their attention output masked), and ONNX Runtime runs
// the result.
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Transformers;

public sealed class HeadBiasTests
{
    private const int Width = 16, HeadWidth = Width / 4;

    private static Dictionary<string, Tensor> Feed() => PyTorchFixtures.EncoderFeed();

    // The original with the removed heads' output-projection rows set to zero (their attention output masked): the
    // projection is a MatMul or Gemm with an [in, out] weight, so head h is its rows h·d … h·d + d − 1.
    internal static GraphModule Masked(GraphModule model, IReadOnlyList<EncoderLayer> layers, IReadOnlyDictionary<int, int[]> remove,
        int headWidth = HeadWidth, int width = Width)
    {
        var masked = model.Graph.Clone();
        foreach (var (layer, heads) in remove)
        {
            var w = masked.Initializers[layers[layer].Projections!.Output.Weight];
            foreach (int h in heads) w.Data.AsSpan(h * headWidth * width, headWidth * width).Clear();
        }
        return new GraphModule(masked);
    }

    private static Tensor States(GraphModule model) => model.Run(Feed())["last_hidden_state"];

    [Fact]
    public void EachLayerKeepsItsOwnHeadsOfASharedRelativePositionBias()
    {
        var model = PyTorchFixtures.Load("relbias-op14.onnx", "relbias.expected.npy", States, 1e-5f);
        var layers = EncoderLayers.Find(model);
        Assert.Equal([4, 4], layers.Select(l => l.Heads));

        // Heads of the second layer alone: the first keeps the shared table whole.
        var second = new Dictionary<int, int[]> { [1] = [2] };
        Graph.TensorAsserts.Close(States(Masked(model, layers, second)), States(AttentionPruning.RemoveHeads(model, layers, second).Model), 1e-5f);

        var remove = new Dictionary<int, int[]> { [0] = [1, 3], [1] = [0] };
        var result = AttentionPruning.RemoveHeads(model, layers, remove);
        Graph.TensorAsserts.Close(States(Masked(model, layers, remove)), States(result.Model), 1e-5f);
        Assert.Equal([2, 3], EncoderLayers.Find(result.Model).Select(l => l.Heads));
        // Each layer reads a table of its own heads; the shared one is gone.
        var tables = result.Model.Graph.Initializers.Where(i => i.Key.StartsWith("relative_attention_bias.weight", StringComparison.Ordinal))
            .Select(i => i.Value.Shape[1]).Order();
        Assert.Equal([2, 3], tables);
        Assert.Equal([32, 4], model.Graph.Initializers["relative_attention_bias.weight"].Shape);

        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(result.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [.. Feed().Select(f => (f.Key, f.Value))])["last_hidden_state"];
        Graph.TensorAsserts.Close(ort, States(result.Model), 1e-4f);
    }
}
