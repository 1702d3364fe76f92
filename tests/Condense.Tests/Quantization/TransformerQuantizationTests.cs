// Quantization of the layers transformers are made of: a MatMul by a [in, out] weight gets per-column int8 scales (its
// output axis) and, in dynamic mode, a per-batch quantized input — checked against the float simulation written out
// here — and an embedding Gather becomes int8 rows with per-row scales, read back exactly by ONNX Runtime.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Quantization;

public class TransformerQuantizationTests
{
    // x [2, 3, 8] · W [8, 5] + b: a transformer's linear layer as exporters write it (MatMul, then Add).
    private static GraphModule LinearAsMatMul(Tensor weight)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 8]));
        graph.Initializers["w"] = weight;
        graph.Initializers["b"] = Tensor.Uniform(new Rng(3), -1, 1, 5);
        graph.Trainable.Add("w");
        graph.Trainable.Add("b");
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["x", "w"], ["h"]));
        graph.Nodes.Add(new Node("add", OpTypes.Add, ["h", "b"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3, 5]));
        return new GraphModule(graph);
    }

    [Fact]
    public void DynamicMatMulMatchesTheFloatSimulation()
    {
        var weight = Tensor.Uniform(new Rng(1), -1, 1, 8, 5);
        var x = Tensor.Uniform(new Rng(2), -3, 2, 2, 3, 8);
        var model = LinearAsMatMul(weight);
        var (quantized, layers) = Quantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null);
        Assert.Equal("w", Assert.Single(layers).Weight);

        // Simulation: weight columns scaled by max|W[:, j]| / 127; input asymmetric uint8 over [min(x, 0), max(x, 0)].
        var columnScale = Enumerable.Range(0, 5).Select(j => Enumerable.Range(0, 8).Max(i => MathF.Abs(weight.Data[i * 5 + j])) / 127f).ToArray();
        float lo = Math.Min(0, x.Data.Min()), hi = Math.Max(0, x.Data.Max()), inputScale = (hi - lo) / 255f;
        float zero = MathF.Round(Math.Clamp(-lo / inputScale, 0, 255), MidpointRounding.ToEven);
        var xq = x.Data.Select(v => (Math.Clamp(MathF.Round(v / inputScale, MidpointRounding.ToEven) + zero, 0, 255) - zero) * inputScale).ToArray();
        var wq = weight.Data.Select((v, k) => MathF.Round(v / columnScale[k % 5], MidpointRounding.ToEven) * columnScale[k % 5]).ToArray();
        var bias = model.Graph.Initializers["b"].Data;
        Tensor y;
        using (GradMode.NoGrad()) { quantized.Eval(); y = quantized.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"]; }
        for (int r = 0; r < 6; r++)
            for (int j = 0; j < 5; j++)
            {
                double expected = bias[j];
                for (int i = 0; i < 8; i++) expected += xq[r * 8 + i] * wq[i * 5 + j];
                Assert.Equal(expected, y.Data[r * 5 + j], 4);
            }
    }

    [Fact]
    public void EmbeddingRowsAreInt8WithAScalePerRowAndOnnxRuntimeAgrees()
    {
        var table = Tensor.Uniform(new Rng(4), -2, 2, 10, 6);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("ids", [-1, -1]) { DataType = "int64" });
        graph.Initializers["embeddings.weight"] = table;
        graph.Trainable.Add("embeddings.weight");
        graph.Nodes.Add(new Node("gather", OpTypes.Gather, ["embeddings.weight", "ids"], ["e"]));
        graph.Outputs.Add(new ValueInfo("e", [-1, -1, 6]));
        var (quantized, layers) = Quantizer.Quantize(new GraphModule(graph), new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null);
        Assert.Equal("embeddings.weight", Assert.Single(layers).Weight);
        Assert.Equal(ElementType.Int8, quantized.Graph.TypeOf("embeddings.weight.quantized"));

        var ids = Tensor.FromInt64s([3, 0, 9, 3, 7, 1], DataType.Int64, 2, 3);
        Tensor y;
        using (GradMode.NoGrad()) { quantized.Eval(); y = quantized.Run(new Dictionary<string, Tensor> { ["ids"] = ids })["e"]; }
        for (int k = 0; k < 6; k++)
        {
            int row = (int)ids.Int64Data[k];
            float scale = Enumerable.Range(0, 6).Max(d => MathF.Abs(table.Data[row * 6 + d])) / 127f;
            for (int d = 0; d < 6; d++)
                Assert.Equal(MathF.Round(table.Data[row * 6 + d] / scale, MidpointRounding.ToEven) * scale, y.Data[k * 6 + d], 5);
        }
        var ort = TypedParity.RunOnnxRuntime(OnnxExporter.ToModel(quantized.Graph), [("ids", ids)])["e"];
        Assert.Equal(y.Data, ort.Data);
    }

    [Fact]
    public void BlockwiseMatMulWeightsBlockAlongTheInputAxis()
    {
        var weight = Tensor.Uniform(new Rng(5), -1, 1, 32, 5);
        var (quantized, _) = Quantizer.Quantize(LinearAsMatMul(weight).WithInput(16),
            new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 16 }, null);
        var scales = quantized.Graph.Initializers["w.scale"];
        Assert.Equal([2, 5], scales.Shape);
        // Column j, block b: max |W[16b .. 16b + 15, j]| / 7.
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < 5; j++)
                Assert.Equal(Enumerable.Range(16 * b, 16).Max(i => MathF.Abs(weight.Data[i * 5 + j])) / 7f, scales.Data[b * 5 + j], 6);
    }

    // An opset-11 graph (axes as attributes) with int4 weights is written at opset 21: its ReduceSum and Unsqueeze
    // (changed at 13) and ReduceMean (changed at 18) must take their axes as inputs there, or ONNX Runtime refuses it.
    [Fact]
    public void Int4ExportRaisesOlderNodesToOpset21Forms()
    {
        var graph = new ModelGraph { Opset = 11 };
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 32]));
        graph.Initializers["w"] = Tensor.Uniform(new Rng(6), -1, 1, 32, 4);
        graph.Trainable.Add("w");
        var axes = new Dictionary<string, AttributeValue> { ["axes"] = AttributeValue.Ints(2) };
        graph.Nodes.Add(new Node("mean", OpTypes.ReduceMean, ["x"], ["m"], axes));
        graph.Nodes.Add(new Node("centre", OpTypes.Sub, ["x", "m"], ["c"]));
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["c", "w"], ["h"]));
        graph.Nodes.Add(new Node("sum", OpTypes.ReduceSum, ["h"], ["s"], new Dictionary<string, AttributeValue>
            { ["axes"] = AttributeValue.Ints(2), ["keepdims"] = AttributeValue.Int(0) }));
        graph.Nodes.Add(new Node("unsqueeze", OpTypes.Unsqueeze, ["s"], ["y"], axes));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3, 1]));
        var (quantized, _) = Quantizer.Quantize(new GraphModule(graph),
            new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 16 }, null);
        var x = Tensor.Uniform(new Rng(7), -1, 1, 2, 3, 32);
        Tensor ours;
        using (GradMode.NoGrad()) { quantized.Eval(); ours = quantized.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"]; }
        var model = OnnxExporter.ToModel(quantized.Graph);
        Assert.Equal(21, model.OpsetImport.Single().Version);
        // Unoptimised: ONNX Runtime's optimiser fuses DequantizeLinear + MatMul into MatMulNBits with int8 activations
        // (accuracy level 4), a different computation; the plain kernels compute what the file says.
        var plain = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL };
        var ort = TypedParity.RunOnnxRuntime(model, [("x", x)], plain)["y"];
        for (int i = 0; i < ours.Size; i++) Assert.Equal(ours.Data[i], ort.Data[i], 4);
        Assert.Equal(11, graph.Opset);   // the graph passed in is not changed
        Assert.True(graph.Nodes[0].Attributes.ContainsKey("axes"));
    }

    // A MatMul's int4 blocked weight [K, N] written as ONNX Runtime's MatMulNBits (which stores [N, K]) computes what
    // our QDQ graph computes; the weight-only form leaves the input in float.
    [Fact]
    public void Int4MatMulExportsAsMatMulNBits()
    {
        var weight = Tensor.Uniform(new Rng(8), -1, 1, 64, 5);
        var (quantized, _) = Quantizer.Quantize(LinearAsMatMul(weight).WithInput(64),
            new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 32 }, null);
        var x = Tensor.Uniform(new Rng(9), -1, 1, 2, 3, 64);
        Tensor ours;
        using (GradMode.NoGrad()) { quantized.Eval(); ours = quantized.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"]; }
        var nbits = MatMulNBitsExport.Convert(quantized.Graph);
        Assert.Contains(nbits.Nodes, n => n.OpType == OpTypes.MatMulNBits);
        var ort = TypedParity.RunOnnxRuntime(OnnxExporter.ToModel(nbits), [("x", x)])["y"];
        for (int i = 0; i < ours.Size; i++) Assert.Equal(ours.Data[i], ort.Data[i], 4);
    }

    // The dynamic MatMul written as ONNX Runtime's quantize_dynamic writes it (MatMulInteger → Cast → Mul) computes
    // what our QDQ simulation computes.
    [Fact]
    public void DynamicMatMulExportsAsMatMulInteger()
    {
        var (quantized, _) = Quantizer.Quantize(LinearAsMatMul(Tensor.Uniform(new Rng(10), -1, 1, 8, 5)),
            new QuantizeOptions { Mode = QuantizationMode.Dynamic, WeightBits = OrtInt8.WeightBits }, null);
        var x = Tensor.Uniform(new Rng(11), -2, 3, 2, 3, 8);
        Tensor ours;
        using (GradMode.NoGrad()) { quantized.Eval(); ours = quantized.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"]; }
        var qop = QOperatorExport.Convert(quantized.Graph);
        Assert.Contains(qop.Nodes, n => n.OpType == OpTypes.MatMulInteger);
        var ort = TypedParity.RunOnnxRuntime(OnnxExporter.ToModel(qop), [("x", x)])["y"];
        for (int i = 0; i < ours.Size; i++) Assert.Equal(ours.Data[i], ort.Data[i], 4);
    }
}

internal static class GraphModuleTestExtensions
{
    // The same linear layer with its input width changed (the weight decides it).
    public static GraphModule WithInput(this GraphModule model, int width)
    {
        var graph = model.Graph.Clone();
        graph.Inputs[0] = new ValueInfo("x", [-1, 3, width]);
        return new GraphModule(graph);
    }
}
