// Static quantization of a residual CNN quantizes the inputs of its residual Adds, so that ONNX Runtime fuses every
// conv into QLinearConv (checked in the graph ORT optimises) and still computes what our float simulation computes.
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Quantization;

public sealed class ResidualQuantizationTests
{
    private static readonly Lazy<(GraphModule Float, GraphModule Quantized, Dataset Test)> Models = new(() =>
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("resnet-mini").Build(2), [784]));
        var quantized = Quantizer.Quantize(model, train, new QuantizeOptions { CalibrationSamples = 256 }).Model;
        return (model, quantized, test.Take(64));
    });

    [Fact]
    public void ResidualAddsReadQuantizedValuesWithOneScalePerTensor()
    {
        var graph = Models.Value.Quantized.Graph;
        var adds = graph.Nodes.Where(n => n.OpType == OpTypes.Add && n.Inputs.All(i => !graph.Initializers.ContainsKey(i))).ToList();
        Assert.NotEmpty(adds);
        foreach (var add in adds)
            foreach (var input in add.Inputs)
                Assert.Equal(OpTypes.DequantizeLinear, graph.Producer(input)?.OpType);
        // A value a layer already quantizes is not quantized again for the Add: the Add reads the layer's DequantizeLinear.
        var residual = graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear && n.Name.Contains("/residual")).Select(n => n.Inputs[0]).ToList();
        Assert.NotEmpty(residual);
        var layerQuantized = graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear && !n.Name.Contains("/residual")).Select(n => n.Inputs[0]);
        Assert.Empty(residual.Intersect(layerQuantized));
    }

    [Fact]
    public void OnnxRuntimeFusesEveryConvAndAgreesWithTheSimulation()
    {
        var (_, quantized, test) = Models.Value;
        string dir = Directory.CreateTempSubdirectory("condense-residual").FullName;
        try
        {
            string optimized = Path.Combine(dir, "optimized.onnx");
            var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized };
            using var session = new InferenceSession(OnnxExporter.ToBytes(quantized.Graph), options);
            var x = test.Batch(Enumerable.Range(0, test.Count).ToArray());
            var input = new DenseTensor<float>(x.Data.ToArray(), [test.Count, 784]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
            var ort = results.Single().AsEnumerable<float>().ToArray();
            var ours = quantized.Forward(x).Data;
            int agree = Enumerable.Range(0, test.Count).Count(i => ArgMax(ort, i) == ArgMax(ours, i));
            Assert.True(agree >= test.Count - 1, $"ORT and the simulation agree on {agree} of {test.Count} images");

            var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Select(n => n.OpType).ToList();
            int convs = quantized.Graph.Nodes.Count(n => n.OpType == OpTypes.Conv);
            Assert.Equal(convs, ops.Count(o => o == "QLinearConv"));
            Assert.DoesNotContain("Conv", ops);
        }
        finally { Directory.Delete(dir, true); }
    }

    private static int ArgMax(float[] logits, int row)
    {
        int best = 0;
        for (int j = 1; j < 10; j++) if (logits[row * 10 + j] > logits[row * 10 + best]) best = j;
        return best;
    }
}
