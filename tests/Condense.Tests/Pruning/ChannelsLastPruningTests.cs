// Filter pruning of a ConvNeXt as PyTorch exports it (Fixtures/onnx/export-convnext.py): each block's MLP is two Linears
// on a channels-last [N, H, W, C] tensor (MatMul and a bias Add) around GELU, at opset 13 decomposed into x / √2, erf,
// + 1, x · (…), · 0.5. Its 32 hidden neurons are removed from the first Linear's columns and bias and the second's rows;
// the oracle is the original with those neurons' rows of the second Linear set to zero (their output masked), and ONNX
// Runtime runs the result. The residual stream (a layer norm across channels, permutes) stays whole, with the reason.
// Convolutions whose channels a Transpose takes to the last axis before a mean (Keras' layout) are cut with the Dense layer.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Pruning;

public sealed class ChannelsLastPruningTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    private static float[] Logits(GraphModule model, Tensor x)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        return model.Forward(x).Data;
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void HiddenNeuronsOfAChannelsLastMlpAreRemovedAsTheirMaskedOutput(int opset)
    {
        var model = ModelFile.Load(Fixture($"convnext-op{opset}.onnx"));
        var input = Npy.Read(Fixture("convnext.input.npy"));
        var x = new Tensor(input.ToFloat(), input.Shape);
        Graph.TensorAsserts.Close(new Tensor(Npy.Read(Fixture("convnext.expected.npy")).ToFloat(), 2, 5), new Tensor(Logits(model, x), 2, 5), 1e-4f);

        var result = StructuredPruning.Remove(model, 0.25);
        // The two blocks' MLPs: 32 → 24 neurons each; nothing else (the stream is normalised across its channels).
        Assert.Equal(2, result.Changes.Count);
        Assert.All(result.Changes, c => Assert.Equal((32, 24), (c.ChannelsBefore, c.ChannelsAfter)));
        Assert.Contains(result.Skipped, s => s.Contains("Transpose", StringComparison.Ordinal) || s.Contains("Reduce", StringComparison.Ordinal));

        // The oracle: the second Linear's rows of the removed neurons zeroed in the original.
        var masked = model.Graph.Clone();
        var index = new GraphIndex(masked);
        foreach (var change in result.Changes)
        {
            var first = change.Layers.Single();
            var reader = index.ConsumersOf(masked.Nodes.Single(n => n.OpType == OpTypes.MatMul && n.Inputs[1] == first).Outputs[0]).Single();
            // MatMul → bias Add → GELU → … → the second MatMul, whose weight [32, 8] has one row per neuron.
            var second = masked.Nodes.Where(n => n.OpType == OpTypes.MatMul && n.Inputs[1] != first && index.Ancestors(n.Inputs[0])
                .Contains(masked.Nodes.IndexOf(reader))).First();
            var w = masked.Initializers[second.Inputs[1]];
            Assert.Equal([32, 8], w.Shape);
            foreach (int removed in Enumerable.Range(0, 32).Except(change.Kept)) w.Data.AsSpan(removed * 8, 8).Clear();
            Assert.Equal([8, 24], result.Model.Graph.Initializers[first].Shape);
            Assert.Equal([24, 8], result.Model.Graph.Initializers[second.Inputs[1]].Shape);
        }
        var cut = Logits(result.Model, x);
        Graph.TensorAsserts.Close(new Tensor(Logits(new GraphModule(masked), x), 2, 5), new Tensor(cut, 2, 5), 1e-5f);

        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(result.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [("input", x)])["logits"];
        Graph.TensorAsserts.Close(ort, new Tensor(cut, 2, 5), 1e-4f);
    }

    [Fact]
    public void FiltersTransposedToChannelsLastBeforeAMeanAreCutAsZeroedFilters()
    {
        // Keras' layout (nhwc-op13.onnx): the convolutions' channels go through a Transpose to the last axis, a mean over height
        // and width, and the Dense layer, whose input rows are cut with them. Oracle: the original with the cut filters zeroed.
        var model = ModelFile.Load(Fixture("nhwc-op13.onnx"));
        var input = Npy.Read(Fixture("nhwc.input.npy"));
        var x = new Tensor(input.ToFloat(), input.Shape);
        Graph.TensorAsserts.Close(new Tensor(Npy.Read(Fixture("nhwc.expected.npy")).ToFloat(), 2, 5), new Tensor(Logits(model, x), 2, 5), 1e-5f);
        var result = StructuredPruning.Remove(model, 0.5);
        Assert.Equal([(8, 4), (16, 8)], result.Changes.Select(c => (c.ChannelsBefore, c.ChannelsAfter)));
        Assert.Equal([5, 8], result.Model.Graph.Initializers["dense.weight"].Shape);
        Assert.Equal([8, 1, 3, 3], result.Model.Graph.Initializers["depthwise.weight"].Shape);
        var zeroed = new GraphModule(ConcatFilterPruningTests.Zeroed(model, result.Changes));
        Graph.TensorAsserts.Close(new Tensor(Logits(zeroed, x), 2, 5), new Tensor(Logits(result.Model, x), 2, 5), 1e-5f);
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(result.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [(proto.Graph.Input[0].Name, x)])[proto.Graph.Output[0].Name];
        Graph.TensorAsserts.Close(new Tensor([.. ort.Data], ort.Shape), new Tensor(Logits(result.Model, x), 2, 5), 1e-5f);
    }
}
