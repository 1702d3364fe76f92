// What PyTorch's exporter writes for transformers and untrained CNNs, on tiny models it exported (Fixtures/onnx/README.md):
// the outputs equal PyTorch's, attention written as opset 11's Softmax(axis = 3) is found as attention again, and an
// initializer the exporter wrote once for several layers (it merges equal tensors) is each layer's own again.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Onnx;

public sealed class PyTorchExportPatternTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    private static Tensor ReadNpy(string name)
    {
        var a = Npy.Read(Fixture(name));
        return new Tensor(a.ToFloat(), a.Shape);
    }

    private static Dictionary<string, Tensor> TokenFeed(GraphModule model)
    {
        var ids = ReadNpy("encoder.input_ids.npy");
        var feed = new Dictionary<string, Tensor> { ["input_ids"] = ids };
        if (model.Graph.Inputs.Count > 1)
        {
            feed["attention_mask"] = ReadNpy("encoder.attention_mask.npy");
            feed["token_type_ids"] = Tensor.Zeros(ids.Shape);
        }
        return feed;
    }

    private static Tensor Output(GraphModule model, Dictionary<string, Tensor> feed)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Run(feed)[model.Graph.Outputs[0].Name];
    }

    [Theory]
    [InlineData("encoder-op11.onnx", "encoder.expected.npy")]
    [InlineData("encoder-op14.onnx", "encoder.expected.npy")]
    [InlineData("decoder-op11.onnx", "decoder.expected.npy")]
    public void TransformerExportsRunAsPyTorchAndTheirAttentionIsFound(string file, string expected)
    {
        var model = ModelFile.Load(Fixture(file));
        Graph.TensorAsserts.Close(ReadNpy(expected), Output(model, TokenFeed(model)), 1e-5f);
        // Opset 11's coerced softmax over the last axis is a plain Softmax again, read by the values' MatMul.
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == OpTypes.Flatten);
        var layers = EncoderLayers.Find(model);
        Assert.Equal(2, layers.Count);
        Assert.All(layers, l => Assert.Equal(2, l.Heads));
        Assert.All(layers, l => Assert.NotNull(l.Projections));
    }

    [Theory]
    [InlineData("encoder-op11.onnx")]
    [InlineData("encoder-op14.onnx")]
    [InlineData("decoder-op11.onnx")]
    public void ParametersThatTheExporterWroteAsIdentityCopiesAreOwnedAgainAndTheStreamNarrows(string file)
    {
        // The exporter wrote the layer norms' equal scales and shifts once, read by the others through Identity nodes.
        var model = ModelFile.Load(Fixture(file));
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == OpTypes.Identity && model.Graph.Initializers.ContainsKey(n.Inputs[0]));
        var narrow = HiddenWidth.Shrink(model, EncoderLayers.Find(model), 8);
        Assert.Equal(8, narrow.After);
        Assert.True(narrow.ParametersAfter < narrow.ParametersBefore);
        Assert.Equal(Output(model, TokenFeed(model)).Shape, Output(narrow.Model, TokenFeed(narrow.Model)).Shape);
    }

    [Fact]
    public void ACoercedSoftmaxOverAnotherAxisStaysCoerced()
    {
        // Softmax(axis = 1) of opset 11 on a [2, 3, 4] input normalizes over 3 × 4 values: not the last axis, so it keeps its form.
        var graph = new ModelGraph { Opset = 11 };
        graph.Inputs.Add(new ValueInfo("x", [2, 3, 4]));
        graph.Nodes.Add(new Node("softmax", OpTypes.Softmax, ["x"], ["y"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("y", [2, 3, 4]));
        string path = Path.Combine(Path.GetTempPath(), $"condense-coerced-{Environment.ProcessId}.onnx");
        try
        {
            Condense.Onnx.OnnxExporter.Export(graph, path);
            var model = ModelFile.Load(path);
            Assert.Contains(model.Graph.Nodes, n => n.OpType == OpTypes.Flatten);
            var x = Tensor.Zeros(2, 3, 4);
            for (int i = 0; i < x.Size; i++) x.Data[i] = i % 5 * 0.3f;
            var y = Output(model, new Dictionary<string, Tensor> { ["x"] = x });
            // Each sample's 12 probabilities sum to 1.
            for (int s = 0; s < 2; s++) Assert.Equal(1f, y.Data.AsSpan(s * 12, 12).ToArray().Sum(), 5);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AFireModuleWhoseConvsShareOneBiasPrunesAndQuantizes()
    {
        var model = ModelFile.Load(Fixture("fire-op13.onnx"));
        var x = ReadNpy("fire.input.npy");
        Graph.TensorAsserts.Close(ReadNpy("fire.expected.npy"), Output(model, new() { ["input"] = x }), 1e-5f);
        // The exporter wrote the zero biases once, the other convs reading Identity copies: each conv owns one again.
        Assert.Empty(SharedInitializers.Find(model.Graph));
        Assert.Equal(4, model.Graph.Nodes.Where(n => n.OpType == OpTypes.Conv).Select(n => n.Inputs[2]).Distinct().Count());
        var pruned = StructuredPruning.Remove(model, 0.5);
        Assert.NotEmpty(pruned.Changes);
        Assert.Equal([2, 5], Output(pruned.Model, new() { ["input"] = x }).Shape);
        var calibration = new Dataset(x.Data, null, x.Shape[1..]);
        var quantized = Quantizer.Quantize(model, calibration, new QuantizeOptions { CalibrationSamples = 2, BiasCorrection = true }).Model;
        Assert.Equal([2, 5], Output(quantized, new() { ["input"] = x }).Shape);
    }
}
