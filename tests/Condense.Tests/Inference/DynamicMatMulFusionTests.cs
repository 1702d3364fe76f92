// Dynamic int8 graphs compile to the graph with DynamicQuantizeMatMul nodes on the integer GEMM: the fused model
// computes the float simulation's outputs (to float rounding: the integer sums are exact), leaves the source model
// as it was, a Gemm's dequantized weights are computed once at compile time, and a graph whose weights have a nonzero
// zero point is not fused.
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Inference;

public class DynamicMatMulFusionTests
{
    private static GraphModule TwoMatMuls()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 8]));
        graph.Initializers["w1"] = Tensor.Uniform(new Rng(1), -1, 1, 8, 6);
        graph.Initializers["b1"] = Tensor.Uniform(new Rng(2), -1, 1, 6);
        graph.Initializers["w2"] = Tensor.Uniform(new Rng(3), -1, 1, 6, 5);
        foreach (var name in new[] { "w1", "b1", "w2" }) graph.Trainable.Add(name);
        graph.Nodes.Add(new Node("matmul1", OpTypes.MatMul, ["x", "w1"], ["h"]));
        graph.Nodes.Add(new Node("add", OpTypes.Add, ["h", "b1"], ["hb"]));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["hb"], ["t"]));
        graph.Nodes.Add(new Node("matmul2", OpTypes.MatMul, ["t", "w2"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3, 5]));
        return new GraphModule(graph);
    }

    private static float[] Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].Data;
    }

    [Fact]
    public void DynamicMatMulsRunOnTheIntegerGemm()
    {
        var quantized = Quantizer.Quantize(TwoMatMuls(), new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null).Model;
        int nodes = quantized.Graph.Nodes.Count;
        var compiled = InferenceEngine.Compile(quantized);
        Assert.Equal(EngineKind.DynamicInteger, compiled.Kind);
        Assert.True(compiled.IsInteger);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        Assert.Equal(2, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.DynamicQuantizeMatMul));
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType is OpTypes.DynamicQuantizeLinear or OpTypes.MatMul);
        Assert.Equal(nodes, quantized.Graph.Nodes.Count);
        foreach (int batch in new[] { 1, 4 })
        {
            var x = Tensor.Uniform(new Rng((ulong)batch), -2, 3, batch, 3, 8);
            var expected = Run(quantized, x);
            var y = Run(runner, x);
            for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 1e-4);
        }
    }

    [Fact]
    public void AGemmsDequantizedWeightsAreComputedOnceAtCompileTime()
    {
        // A Linear layer exported as Gemm (transB, as BERT's pooler) after the MatMuls: its weight's DequantizeLinear is folded.
        var model = TwoMatMuls();
        model.Graph.Initializers["w3"] = Tensor.Uniform(new Rng(4), -1, 1, 4, 5);
        model.Graph.Trainable.Add("w3");
        var transB = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        model.Graph.Nodes.Add(new Node("gemm", OpTypes.Gemm, ["y2d", "w3"], ["z"], transB));
        model.Graph.Nodes.Insert(model.Graph.Nodes.Count - 1, new Node("flatten", OpTypes.Flatten, ["y"], ["y2d"],
            new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(2) }));
        model.Graph.Outputs[0] = new ValueInfo("z", [-1, 4]);
        model = new GraphModule(model.Graph);
        var quantized = Quantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null).Model;
        Assert.Contains(quantized.Graph.Nodes, n => n.OpType == OpTypes.DequantizeLinear && quantized.Graph.Initializers.ContainsKey(n.Inputs[0])
            && quantized.Graph.Consumers(n.Outputs[0]).Any(c => c.OpType == OpTypes.Gemm));
        var runner = Assert.IsType<GraphModule>(InferenceEngine.Compile(quantized).Runner);
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.DequantizeLinear && runner.Graph.Initializers.ContainsKey(n.Inputs[0]));
        var x = Tensor.Uniform(new Rng(7), -2, 3, 2, 3, 8);
        float[] Output(GraphModule m) { m.Eval(); using (GradMode.NoGrad()) return m.Run(new Dictionary<string, Tensor> { ["x"] = x })["z"].Data; }
        var expected = Output(quantized);
        var actual = Output(runner);
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i], actual[i], 1e-4);
    }

    [Fact]
    public void WeightsWithAZeroPointStayInFloat()
    {
        var quantized = Quantizer.Quantize(TwoMatMuls(), new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null).Model;
        foreach (var dq in quantized.Graph.Nodes.Where(n => n.OpType == OpTypes.DequantizeLinear && quantized.Graph.Initializers.ContainsKey(n.Inputs[0])))
            if (dq.Inputs.Count > 2) quantized.Graph.Initializers[dq.Inputs[2]] = Tensor.Full(1f, quantized.Graph.Initializers[dq.Inputs[2]].Shape);
        Assert.Equal(EngineKind.Float, InferenceEngine.Compile(quantized).Kind);
    }

    // A Linear on a matrix as PyTorch exports it — Gemm with transB (nn.MultiheadAttention's output projection, a head),
    // its bias as input C — and a Gemm of an untransposed weight with a bias of shape (1, N): each becomes one
    // DynamicQuantizeMatMul (the transB codes transposed once, their scales per row read per column), with the float
    // simulation's outputs; a Gemm with alpha ≠ 1 is left as it is.
    [Theory]
    [InlineData(true, 1f)]
    [InlineData(false, 1f)]
    [InlineData(true, 0.5f)]
    public void GemmsOfDynamicInputsRunOnTheIntegerGemm(bool transB, float alpha)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 8]));
        graph.Initializers["w1"] = transB ? Tensor.Uniform(new Rng(11), -1, 1, 6, 8) : Tensor.Uniform(new Rng(11), -1, 1, 8, 6);
        graph.Initializers["b1"] = transB ? Tensor.Uniform(new Rng(12), -1, 1, 6) : Tensor.Uniform(new Rng(12), -1, 1, 1, 6);
        graph.Initializers["w2"] = Tensor.Uniform(new Rng(13), -1, 1, 5, 6);
        graph.Initializers["b2"] = Tensor.Uniform(new Rng(14), -1, 1, 5);
        foreach (var name in new[] { "w1", "b1", "w2", "b2" }) graph.Trainable.Add(name);
        graph.Nodes.Add(new Node("gemm1", OpTypes.Gemm, ["x", "w1", "b1"], ["h"], new Dictionary<string, AttributeValue>
            { ["transB"] = AttributeValue.Int(transB ? 1 : 0), ["alpha"] = AttributeValue.Float(alpha) }));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["h"], ["t"]));
        var transposed = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        graph.Nodes.Add(new Node("gemm2", OpTypes.Gemm, ["t", "w2", "b2"], ["y"], transposed));
        graph.Outputs.Add(new ValueInfo("y", [-1, 5]));
        var quantized = Quantizer.Quantize(new GraphModule(graph), new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null).Model;
        Assert.Equal(2, quantized.Graph.Nodes.Count(n => n.OpType == OpTypes.DynamicQuantizeLinear));
        var runner = Assert.IsType<GraphModule>(InferenceEngine.Compile(quantized).Runner);
        Assert.Equal(alpha == 1f ? 2 : 1, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.DynamicQuantizeMatMul));
        Assert.Equal(alpha == 1f ? 0 : 1, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.Gemm));
        foreach (var fused in runner.Graph.Nodes.Where(n => n.OpType == OpTypes.DynamicQuantizeMatMul))
        {
            Assert.Equal(5, fused.Inputs.Count);   // x, codes, scales, zero point, bias
            Assert.Equal(ElementType.Int8, runner.Graph.TypeOf(fused.Inputs[1]));
        }
        var x = Tensor.Uniform(new Rng(15), -2, 3, 4, 8);
        var expected = Run(quantized, x);
        var y = Run(runner, x);
        for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 1e-4);
    }

    // A static QDQ graph (uint8 activations over 0–255, int8 weights: per-column for the MatMul, per-row under the Gemm's
    // transB) runs its Linear layers as QuantizeMatMul nodes on the integer GEMM, each input quantized with the graph's own
    // scale and zero point, the bias Add and the Gemm's C in the epilogue: the plain QDQ graph's outputs to float rounding.
    // Activations of int8 codes are left to the float simulation.
    [Theory]
    [InlineData(ElementType.UInt8)]
    [InlineData(ElementType.Int8)]
    public void StaticQdqLinearsRunOnTheIntegerGemm(ElementType activations)
    {
        var rng = new Rng(21);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 8]));
        void Constant(string name, Tensor value, ElementType type) { graph.Initializers[name] = value; graph.ElementTypes[name] = type; }
        Tensor Codes(params int[] shape)
        {
            var t = Tensor.Uniform(rng, -127f, 127f, shape);
            for (int i = 0; i < t.Size; i++) t.Data[i] = MathF.Round(t.Data[i]);
            return t;
        }
        bool unsigned = activations == ElementType.UInt8;
        Constant("sx", Tensor.Scalar(0.03f), ElementType.Float32);
        Constant("zx", Tensor.Scalar(unsigned ? 100f : -20f), activations);
        Constant("sh", Tensor.Scalar(0.01f), ElementType.Float32);
        Constant("zh", Tensor.Scalar(unsigned ? 128f : 0f), activations);
        Constant("w1", Codes(8, 6), ElementType.Int8);
        Constant("s1", Tensor.Uniform(rng, 0.001f, 0.01f, 6), ElementType.Float32);
        Constant("b1", Tensor.Uniform(rng, -1f, 1f, 6), ElementType.Float32);
        Constant("w2", Codes(5, 6), ElementType.Int8);
        Constant("s2", Tensor.Uniform(rng, 0.001f, 0.01f, 5), ElementType.Float32);
        Constant("b2", Tensor.Uniform(rng, -1f, 1f, 5), ElementType.Float32);
        var axis0 = new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(0) };
        graph.Nodes.Add(new Node("qx", OpTypes.QuantizeLinear, ["x", "sx", "zx"], ["xq"]));
        graph.Nodes.Add(new Node("dqx", OpTypes.DequantizeLinear, ["xq", "sx", "zx"], ["xd"]));
        graph.Nodes.Add(new Node("dw1", OpTypes.DequantizeLinear, ["w1", "s1"], ["w1d"]));
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["xd", "w1d"], ["h"]));
        graph.Nodes.Add(new Node("add", OpTypes.Add, ["h", "b1"], ["hb"]));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["hb"], ["t"]));
        graph.Nodes.Add(new Node("flat", OpTypes.Flatten, ["t"], ["t2"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(2) }));
        graph.Nodes.Add(new Node("qh", OpTypes.QuantizeLinear, ["t2", "sh", "zh"], ["hq"]));
        graph.Nodes.Add(new Node("dqh", OpTypes.DequantizeLinear, ["hq", "sh", "zh"], ["hd"]));
        graph.Nodes.Add(new Node("dw2", OpTypes.DequantizeLinear, ["w2", "s2"], ["w2d"], axis0));
        var transB = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        graph.Nodes.Add(new Node("gemm", OpTypes.Gemm, ["hd", "w2d", "b2"], ["y"], transB));
        graph.Outputs.Add(new ValueInfo("y", [-1, 5]));
        var model = new GraphModule(graph);
        var compiled = InferenceEngine.Compile(model);
        Assert.Equal(EngineKind.Float, compiled.Kind);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        Assert.Equal(unsigned ? 2 : 0, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.QuantizeMatMul));
        if (unsigned) Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType is OpTypes.Add or OpTypes.Gemm or OpTypes.QuantizeLinear);
        var x = Tensor.Uniform(new Rng(22), -3f, 4f, 2, 3, 8);   // beyond the codes' range at both ends
        float[] Output(GraphModule m) { m.Eval(); using (GradMode.NoGrad()) return m.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].Data; }
        var expected = Output(model);
        var actual = Output(runner);
        Assert.Equal(6 * 5, actual.Length);
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i], actual[i], 1e-4);
    }

    // The QOperator form ONNX Runtime's quantize_dynamic writes — DynamicQuantizeLinear → MatMulInteger → Cast → Mul by
    // Mul(x_scale, w_scale), then the bias Add — becomes one DynamicQuantizeMatMul with the bias: int8 weights as they are
    // with their zero point, uint8 weights (any zero point, per tensor or per column) stored once as W − 128 with z − 128,
    // each with the graph's outputs (MatMulInteger's exact sums).
    [Theory]
    [InlineData(ElementType.Int8, 0f, false, false)]
    [InlineData(ElementType.Int8, 3f, true, false)]
    [InlineData(ElementType.UInt8, 128f, true, false)]
    [InlineData(ElementType.UInt8, 0f, true, false)]
    [InlineData(ElementType.UInt8, 131f, false, false)]
    [InlineData(ElementType.UInt8, 120f, true, true)]
    public void TheQOperatorFormRunsOnTheIntegerGemm(ElementType weights, float zeroPoint, bool perColumn, bool zeroPerColumn)
    {
        var rng = new Rng(31);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 8]));
        void Constant(string name, Tensor value, ElementType type) { graph.Initializers[name] = value; graph.ElementTypes[name] = type; }
        var codes = Tensor.Uniform(rng, weights == ElementType.Int8 ? -127f : 0f, weights == ElementType.Int8 ? 127f : 255f, 8, 6);
        for (int i = 0; i < codes.Size; i++) codes.Data[i] = MathF.Round(codes.Data[i]);
        Constant("w", codes, weights);
        Constant("wz", zeroPerColumn ? new Tensor([.. Enumerable.Range(0, 6).Select(c => zeroPoint + c)], [6]) : Tensor.Scalar(zeroPoint), weights);
        Constant("ws", perColumn ? Tensor.Uniform(rng, 0.001f, 0.01f, 6) : Tensor.Scalar(0.004f), ElementType.Float32);
        Constant("b", Tensor.Uniform(rng, -1f, 1f, 6), ElementType.Float32);
        graph.Nodes.Add(new Node("dql", OpTypes.DynamicQuantizeLinear, ["x"], ["xq", "xs", "xz"]));
        graph.Nodes.Add(new Node("mmi", OpTypes.MatMulInteger, ["xq", "w", "xz", "wz"], ["y32"]));
        graph.Nodes.Add(new Node("cast", OpTypes.Cast, ["y32"], ["yf"], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }));
        graph.Nodes.Add(new Node("scales", OpTypes.Mul, ["xs", "ws"], ["s"]));
        graph.Nodes.Add(new Node("mul", OpTypes.Mul, ["yf", "s"], ["h"]));
        graph.Nodes.Add(new Node("add", OpTypes.Add, ["b", "h"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3, 6]));
        var model = new GraphModule(graph);
        var compiled = InferenceEngine.Compile(model);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        Assert.Equal(EngineKind.DynamicInteger, compiled.Kind);
        Assert.Single(runner.Graph.Nodes, n => n.OpType == OpTypes.DynamicQuantizeMatMul);
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType is OpTypes.MatMulInteger or OpTypes.Add or OpTypes.Cast);
        Assert.Equal(ElementType.Int8, runner.Graph.TypeOf(runner.Graph.Nodes.Single(n => n.OpType == OpTypes.DynamicQuantizeMatMul).Inputs[1]));
        var x = Tensor.Uniform(new Rng(32), -2f, 3f, 4, 3, 8);
        var expected = Run(model, x);
        var y = Run(runner, x);
        for (int i = 0; i < y.Length; i++) Assert.Equal(expected[i], y[i], 1e-4);
    }
}
