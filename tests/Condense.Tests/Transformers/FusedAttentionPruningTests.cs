// Heads removed from a GPT-2 whose query, key and value come from one fused projection (Hugging Face's c_attn, split in
// three), exported by PyTorch (Fixtures/onnx/README.md): the narrower model computes what the original computes with
// those heads' rows of the output projection set to zero, and ONNX Runtime runs it.
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Condense.Data;

namespace Condense.Tests.Transformers;

public class FusedAttentionPruningTests
{
    private const int Width = 16, Heads = 4, HeadWidth = Width / Heads;

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    private static Dictionary<string, Tensor> Feed()
    {
        var ids = Npy.Read(Fixture("encoder.input_ids.npy"));
        return new() { ["input_ids"] = Tensor.FromInt64s(Array.ConvertAll(ids.ToFloat(), v => (long)v), DataType.Int64, ids.Shape) };
    }

    private static Tensor Logits(GraphModule model) => model.Run(Feed())["logits"];

    [Fact]
    public void TheFusedProjectionAndItsSplitAreFound()
    {
        var model = PyTorchFixtures.Load("gpt2-fused-op13.onnx", "gpt2.expected.npy", Logits, 1e-5f);
        var layers = EncoderLayers.Find(model);
        Assert.Equal(2, layers.Count);
        Assert.All(layers, l =>
        {
            var roles = Assert.IsType<LayerProjections>(l.Projections);
            Assert.Equal(OpTypes.Split, roles.FusedSplit?.OpType);
            Assert.Same(Assert.Single(roles.QueryKey), roles.Value);
            Assert.Equal([Width, 3 * Width], model.Graph.Initializers[roles.Value.Weight].Shape);
        });
    }

    [Fact]
    public void RemovingHeadsOfAFusedProjectionEqualsMaskingTheirAttentionOutput()
    {
        var model = ModelFile.Load(Fixture("gpt2-fused-op13.onnx"));
        var layers = EncoderLayers.Find(model);
        var remove = new Dictionary<int, int[]> { [0] = [1, 3], [1] = [0] };
        var result = AttentionPruning.RemoveHeads(model, layers, remove);

        // The output projection is a Gemm with an [in, out] weight.
        var expected = Logits(HeadBiasTests.Masked(model, layers, remove, HeadWidth, Width));
        Graph.TensorAsserts.Close(expected, Logits(result.Model), 1e-5f);
        Assert.Equal([(4, 2), (4, 3)], result.Layers.Select(l => (l.Before, l.After)));
        // Per head: d columns of each third of the fused weight (Width·d each) and of its bias (d), and d rows of the output projection.
        Assert.Equal(result.ParametersBefore - 3 * (3 * (Width * HeadWidth + HeadWidth) + HeadWidth * Width), result.ParametersAfter);
        Assert.Equal([2, 3], EncoderLayers.Find(result.Model).Select(l => l.Heads));

        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(result.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [.. Feed().Select(f => (f.Key, f.Value))])["logits"];
        Graph.TensorAsserts.Close(ort, Logits(result.Model), 1e-4f);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(17)]
    public void TinyDecodersWithSplitSizesAsAttributeOrInputLoseHeadsAsMasked(long opset)
    {
        // Before opset 13 the Split's sizes are an attribute, from 13 an input.
        var decoder = EncoderLayersTests.Load(TinyTransformer.Decoder(opset));
        var layer = Assert.Single(EncoderLayers.Find(decoder));
        var result = AttentionPruning.RemoveHeads(decoder, [layer], new Dictionary<int, int[]> { [0] = [1] });
        var masked = decoder.Graph.Clone();
        masked.Initializers[layer.Projections!.Output.Weight].Data.AsSpan(TinyTransformer.HeadWidth * TinyTransformer.Width).Clear();
        var feed = EncoderLayersTests.Feed(2, 6, 3);
        feed.Remove("attention_mask");
        string output = decoder.Graph.Outputs[0].Name;
        Graph.TensorAsserts.Close(new GraphModule(masked).Run(feed)[output], result.Model.Run(feed)[output], 1e-5f);
        Assert.Equal(1, EncoderLayers.Find(result.Model).Single().Heads);
        Assert.Equal(2, EncoderLayers.Find(decoder).Single().Heads);   // the input model is not changed
    }
}
