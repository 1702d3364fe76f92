// Static quantization of a SqueezeNet Fire module (PyTorch's export, Fixtures/onnx/fire-op13.onnx: a squeeze conv read
// by two expand convs whose outputs are concatenated) quantizes each Concat input and gives the squeeze output one
// Q → DQ that both expand convs read, so that ONNX Runtime fuses every conv into QLinearConv (checked in the graph ORT
// optimises; before, the squeeze conv and both expand convs ran in float on dequantized weights) and still computes what
// our float simulation computes. (Where a quantized layer reads the Concat, as in SqueezeNet, ORT makes it a QLinearConcat.)
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Quantization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Quantization;

public sealed class ConcatQuantizationTests
{
    [Fact]
    public void EveryConvAndTheConcatRunOnCodesInOnnxRuntime()
    {
        var model = ModelFile.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", "fire-op13.onnx"));
        var x = Tensor.Uniform(new Condense.Tensors.Rng(3), 0f, 1f, 16, 3, 12, 12);
        var quantized = Quantizer.Quantize(model, new Dataset(x.Data, null, [3, 12, 12]), new QuantizeOptions { CalibrationSamples = 16 }).Model;
        var graph = quantized.Graph;
        var concat = graph.Nodes.Single(n => n.OpType == OpTypes.Concat);
        Assert.All(concat.Inputs, input => Assert.Equal(OpTypes.DequantizeLinear, graph.Producer(input)?.OpType));
        // The squeeze conv's ReLU is quantized once for both expand convs.
        var squeezeRelu = graph.Nodes.First(n => n.OpType == OpTypes.Relu);
        Assert.Single(graph.Consumers(squeezeRelu.Outputs[0]), n => n.OpType == OpTypes.QuantizeLinear);

        string dir = Directory.CreateTempSubdirectory("condense-concat-quant").FullName;
        try
        {
            string optimized = Path.Combine(dir, "optimized.onnx");
            var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized };
            using var session = new InferenceSession(OnnxExporter.ToBytes(graph), options);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.Data.ToArray(), x.Shape))]);
            var ort = results.Single().AsEnumerable<float>().ToArray();
            float[] ours;
            using (Condense.Autograd.GradMode.NoGrad()) ours = quantized.Run(new Dictionary<string, Tensor> { ["input"] = x })[graph.Outputs[0].Name].Data;
            double scale = ort.Max(Math.Abs);
            for (int i = 0; i < ort.Length; i++) Assert.True(Math.Abs(ort[i] - ours[i]) <= 0.02 * scale, $"{i}: ORT {ort[i]}, ours {ours[i]}");

            var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.Select(n => n.OpType).ToList();
            Assert.Equal(graph.Nodes.Count(n => n.OpType == OpTypes.Conv), ops.Count(o => o == "QLinearConv"));
            Assert.DoesNotContain("Conv", ops);
            Assert.DoesNotContain("FusedConv", ops);
        }
        finally { Directory.Delete(dir, true); }
    }
}
