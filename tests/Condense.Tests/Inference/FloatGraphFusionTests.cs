// Float graphs compile with their LayerNorm, GELU (erf and tanh), SiLU and hard-swish decompositions (as PyTorch's ONNX
// export writes them) fused into LayerNormalization, Gelu, Swish and HardSwish nodes: on small hand-built graphs the fused
// runner computes the unfused graph's outputs (the oracle) within 1e-5 relative (hard-swish bit for bit), the epsilon
// comes from the graph, the source graph is left as it was, and chains that differ from the exact pattern (another
// exponent or constant, an intermediate read elsewhere, a bias that is not one per column) are not fused. A MatMul by a
// constant weight plus a constant bias becomes one Gemm; a batch norm and its Relu one pass with the same bits.
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Tensors;

namespace Condense.Tests.Inference;

public class FloatGraphFusionTests
{
    private const int Width = 37;

    private static ModelGraph NewGraph()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 5, Width]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 5, Width]));
        return graph;
    }

    private static void Constant(ModelGraph graph, string name, float value) => graph.Initializers[name] = Tensor.Full(value, 1);

    // x → LayerNorm decomposition (ReduceMean/Sub/Pow/ReduceMean/Add ε/Sqrt/Div/Mul γ/Add β) → `output`.
    private static void LayerNorm(ModelGraph graph, string x, string output, float epsilon = 1e-12f, float exponent = 2f)
    {
        graph.Initializers["gamma"] = Tensor.Uniform(new Rng(3), 0.5f, 1.5f, Width);
        graph.Initializers["beta"] = Tensor.Uniform(new Rng(4), -1f, 1f, Width);
        foreach (var name in new[] { "gamma", "beta" }) graph.Trainable.Add(name);
        Constant(graph, "two", exponent);
        Constant(graph, "eps", epsilon);
        var axes = new Dictionary<string, AttributeValue> { ["axes"] = AttributeValue.Ints(-1) };
        graph.Nodes.Add(new Node("mean", OpTypes.ReduceMean, [x], ["m"], axes));
        graph.Nodes.Add(new Node("sub", OpTypes.Sub, [x, "m"], ["d"]));
        graph.Nodes.Add(new Node("pow", OpTypes.Pow, ["d", "two"], ["d2"]));
        graph.Nodes.Add(new Node("var", OpTypes.ReduceMean, ["d2"], ["v"], axes));
        graph.Nodes.Add(new Node("addEps", OpTypes.Add, ["v", "eps"], ["ve"]));
        graph.Nodes.Add(new Node("sqrt", OpTypes.Sqrt, ["ve"], ["s"]));
        graph.Nodes.Add(new Node("div", OpTypes.Div, ["d", "s"], ["n"]));
        graph.Nodes.Add(new Node("scale", OpTypes.Mul, ["n", "gamma"], ["ng"]));
        graph.Nodes.Add(new Node("shift", OpTypes.Add, ["ng", "beta"], [output]));
    }

    // x → GELU decomposition → `output`: Div(√2)/Erf/Add(1)/Mul(x)/Mul(½), or (halfFirst) Mul(1/√2)/Erf/Add(1) and Mul(x, ½) times it.
    private static void Gelu(ModelGraph graph, string x, string output, bool halfFirst = false, float one = 1f)
    {
        Constant(graph, "root", halfFirst ? 0.70710678f : 1.4142135f);
        Constant(graph, "one", one);
        Constant(graph, "half", 0.5f);
        graph.Nodes.Add(new Node("scaled", halfFirst ? OpTypes.Mul : OpTypes.Div, [x, "root"], ["t"]));
        graph.Nodes.Add(new Node("erf", OpTypes.Erf, ["t"], ["e"]));
        graph.Nodes.Add(new Node("plusOne", OpTypes.Add, ["e", "one"], ["a"]));
        if (halfFirst)
        {
            graph.Nodes.Add(new Node("halfX", OpTypes.Mul, ["half", x], ["h"]));
            graph.Nodes.Add(new Node("product", OpTypes.Mul, ["a", "h"], [output]));
            return;
        }
        graph.Nodes.Add(new Node("timesX", OpTypes.Mul, [x, "a"], ["p"]));
        graph.Nodes.Add(new Node("timesHalf", OpTypes.Mul, ["p", "half"], [output]));
    }

    private static float[] Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].Data;
    }

    // Compiles `graph`, checks it fused into nodes of `fusedOps` only, and that the fused runner agrees with the graph.
    private static GraphModule AssertFuses(ModelGraph graph, params string[] fusedOps)
    {
        var model = new GraphModule(graph);
        int nodes = graph.Nodes.Count;
        var compiled = InferenceEngine.Compile(model);
        Assert.Equal(EngineKind.Float, compiled.Kind);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        Assert.NotSame(model, runner);
        Assert.Equal(fusedOps, runner.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(nodes, graph.Nodes.Count);
        foreach (int batch in new[] { 1, 3 })
        {
            var x = Tensor.Uniform(new Rng((ulong)batch), -4f, 5f, batch, 5, Width);
            var expected = Run(model, x);
            var actual = Run(runner, x);
            double scale = expected.Max(Math.Abs);
            for (int i = 0; i < actual.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * scale, $"{i}: {expected[i]} vs {actual[i]}");
        }
        return runner;
    }

    [Fact]
    public void LayerNormDecompositionFusesWithTheGraphsEpsilon()
    {
        var graph = NewGraph();
        LayerNorm(graph, "x", "y", epsilon: 0.25f);
        var runner = AssertFuses(graph, OpTypes.LayerNormalization);
        var node = runner.Graph.Nodes.Single();
        Assert.Equal(0.25f, node.Float("epsilon", 0));
        Assert.Equal(-1, node.Int("axis", 0));
        Assert.Equal(["x", "gamma", "beta"], node.Inputs);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeluDecompositionFuses(bool halfFirst)
    {
        var graph = NewGraph();
        Gelu(graph, "x", "y", halfFirst);
        AssertFuses(graph, OpTypes.Gelu);
    }

    // x → GPT-2's gelu_new as PyTorch exports it: Mul(x, ½), Pow(x, 3), Mul(·, 0.044715), Add(x, ·), Mul(·, √(2/π)), Tanh,
    // Add(·, 1), Mul(half, ·) (swapped: every binary node's operands in the other order).
    private static void TanhGelu(ModelGraph graph, bool swapped, float cubic = 0.044715f)
    {
        Constant(graph, "half", 0.5f);
        Constant(graph, "three", 3f);
        Constant(graph, "cubic", cubic);
        Constant(graph, "root", 0.7978845834732056f);
        Constant(graph, "one", 1f);
        string[] Pair(string a, string b) => swapped ? [b, a] : [a, b];
        graph.Nodes.Add(new Node("half", OpTypes.Mul, Pair("x", "half"), ["h"]));
        graph.Nodes.Add(new Node("pow", OpTypes.Pow, ["x", "three"], ["p"]));
        graph.Nodes.Add(new Node("cubic", OpTypes.Mul, Pair("p", "cubic"), ["c"]));
        graph.Nodes.Add(new Node("inner", OpTypes.Add, Pair("x", "c"), ["i"]));
        graph.Nodes.Add(new Node("scaled", OpTypes.Mul, Pair("i", "root"), ["s"]));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["s"], ["t"]));
        graph.Nodes.Add(new Node("plusOne", OpTypes.Add, Pair("t", "one"), ["a"]));
        graph.Nodes.Add(new Node("product", OpTypes.Mul, Pair("h", "a"), ["y"]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TanhGeluDecompositionFuses(bool swapped)
    {
        var graph = NewGraph();
        TanhGelu(graph, swapped);
        var node = AssertFuses(graph, OpTypes.Gelu).Graph.Nodes.Single();
        Assert.Equal(["x"], node.Inputs);
        Assert.Equal("tanh", node.Attributes["approximate"].StringValue);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SiluBecomesOneSwish(bool gateFirst)
    {
        var graph = NewGraph();
        graph.Nodes.Add(new Node("gate", OpTypes.Sigmoid, ["x"], ["s"]));
        graph.Nodes.Add(new Node("silu", OpTypes.Mul, gateFirst ? ["s", "x"] : ["x", "s"], ["y"]));
        var node = AssertFuses(graph, OpTypes.Swish).Graph.Nodes.Single();
        Assert.Equal(["x"], node.Inputs);
        Assert.Empty(node.Attributes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HardSwishWrittenOutBecomesOneHardSwishWithTheSameBits(bool gateFirst)
    {
        // PyTorch's export of hard-swish before opset 14: HardSigmoid(α = 1/6 as a float, β = ½), then the product with x.
        var graph = NewGraph();
        graph.Nodes.Add(new Node("gate", OpTypes.HardSigmoid, ["x"], ["s"],
            new Dictionary<string, AttributeValue> { ["alpha"] = AttributeValue.Float(0.1666666716337204f) }));
        graph.Nodes.Add(new Node("swish", OpTypes.Mul, gateFirst ? ["s", "x"] : ["x", "s"], ["y"]));
        var runner = AssertFuses(graph, OpTypes.HardSwish);
        Assert.Equal(["x"], runner.Graph.Nodes.Single().Inputs);
        var x = Tensor.Uniform(new Rng(9), -5f, 5f, 2, 5, Width);
        Assert.Equal(Run(new GraphModule(graph), x).Select(BitConverter.SingleToInt32Bits), Run(runner, x).Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void ADropoutsUnreadMaskIsDropped()
    {
        var graph = NewGraph();
        Constant(graph, "ratio", 0.1f);
        graph.Nodes.Add(new Node("drop", OpTypes.Dropout, ["x", "ratio"], ["y", "mask"]));
        var node = AssertFuses(graph, OpTypes.Dropout).Graph.Nodes.Single();
        Assert.Equal(["y"], node.Outputs);
        Assert.Equal(["x", "ratio"], node.Inputs);
        var read = NewGraph();
        Constant(read, "ratio", 0.1f);
        read.Nodes.Add(new Node("drop", OpTypes.Dropout, ["x", "ratio"], ["y", "mask"]));
        read.Outputs.Add(new ValueInfo("mask", [-1, 5, Width]));
        Assert.Same(read, Assert.IsType<GraphModule>(InferenceEngine.Compile(new GraphModule(read)).Runner).Graph);
    }

    // x → BatchNormalization (5 channels, inference form) → `norm`, with its statistics and parameters as initializers.
    private static void Norm(ModelGraph graph, string x, string norm)
    {
        var rng = new Rng(21);
        foreach (var (name, lo, hi) in new[] { ("gamma", -2f, 2f), ("beta", -1f, 1f), ("mean", -1f, 1f), ("var", 0.1f, 3f) })
            graph.Initializers[name] = Tensor.Uniform(rng, lo, hi, 5);
        graph.Nodes.Add(new Node("norm", OpTypes.BatchNormalization, [x, "gamma", "beta", "mean", "var"], [norm],
            new Dictionary<string, AttributeValue> { ["epsilon"] = AttributeValue.Float(1e-3f) }));
    }

    [Fact]
    public void APreActivationNormAndItsReluBecomeOnePassWithTheSameBits()
    {
        var graph = NewGraph();
        Norm(graph, "x", "n");
        graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["n"], ["y"]));
        var runner = AssertFuses(graph, OpTypes.BatchNormalizationRelu);
        Assert.Equal(1e-3f, runner.Graph.Nodes.Single().Float("epsilon", 0f));
        var x = Tensor.Uniform(new Rng(2), -4f, 5f, 3, 5, Width);
        Assert.Equal(Run(new GraphModule(graph), x), Run(runner, x));
        // Not fused: the norm read twice, and a norm after a Conv that only it reads (the conv chain folds that one).
        var shared = NewGraph();
        Norm(shared, "x", "n");
        shared.Nodes.Add(new Node("relu", OpTypes.Relu, ["n"], ["y"]));
        shared.Outputs.Add(new ValueInfo("n", [-1, 5, Width]));
        var afterConv = NewGraph();
        afterConv.Initializers["w"] = Tensor.Uniform(new Rng(3), -1f, 1f, 5, 5, 1);
        afterConv.Nodes.Add(new Node("conv", OpTypes.Conv, ["x", "w"], ["c"]));
        Norm(afterConv, "c", "n");
        afterConv.Nodes.Add(new Node("relu", OpTypes.Relu, ["n"], ["y"]));
        foreach (var near in new[] { shared, afterConv })
            Assert.DoesNotContain(Assert.IsType<GraphModule>(InferenceEngine.Compile(new GraphModule(near)).Runner).Graph.Nodes,
                n => n.OpType == OpTypes.BatchNormalizationRelu);
    }

    [Fact]
    public void LayerNormThenGeluBothFuse()
    {
        var graph = NewGraph();
        LayerNorm(graph, "x", "normed");
        Gelu(graph, "normed", "y");
        AssertFuses(graph, OpTypes.LayerNormalization, OpTypes.Gelu);
    }

    [Fact]
    public void MatMulAndBiasBecomeOneGemm()
    {
        var graph = NewGraph();
        graph.Initializers["w"] = Tensor.Uniform(new Rng(5), -1f, 1f, Width, Width);
        graph.Initializers["b"] = Tensor.Uniform(new Rng(6), -1f, 1f, Width);
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["x", "w"], ["h"]));
        graph.Nodes.Add(new Node("bias", OpTypes.Add, ["b", "h"], ["y"]));
        var runner = AssertFuses(graph, OpTypes.Reshape, OpTypes.Gemm, OpTypes.Shape, OpTypes.Concat, OpTypes.Reshape);
        Assert.Equal(["w", "b"], runner.Graph.Nodes[1].Inputs.Skip(1));
        Assert.Equal(2, graph.Initializers.Count);
    }

    [Fact]
    public void NearMissesAreNotFused()
    {
        var cube = NewGraph();
        LayerNorm(cube, "x", "y", exponent: 3f);
        var two = NewGraph();
        Gelu(two, "x", "y", one: 2f);
        var shared = NewGraph();
        Gelu(shared, "x", "y");
        shared.Outputs.Add(new ValueInfo("e", [-1, 5, Width]));
        var broadcastBias = NewGraph();
        broadcastBias.Initializers["w"] = Tensor.Uniform(new Rng(5), -1f, 1f, Width, Width);
        broadcastBias.Initializers["b"] = Tensor.Full(1f, 1);
        broadcastBias.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["x", "w"], ["h"]));
        broadcastBias.Nodes.Add(new Node("bias", OpTypes.Add, ["h", "b"], ["y"]));
        // x · σ(x) whose gate is also an output, and x · σ(z) of another value: no Swish.
        var sharedGate = NewGraph();
        sharedGate.Nodes.Add(new Node("gate", OpTypes.Sigmoid, ["x"], ["s"]));
        sharedGate.Nodes.Add(new Node("silu", OpTypes.Mul, ["x", "s"], ["y"]));
        sharedGate.Outputs.Add(new ValueInfo("s", [-1, 5, Width]));
        var otherGate = NewGraph();
        otherGate.Nodes.Add(new Node("neg", OpTypes.Neg, ["x"], ["z"]));
        otherGate.Nodes.Add(new Node("gate", OpTypes.Sigmoid, ["z"], ["s"]));
        otherGate.Nodes.Add(new Node("silu", OpTypes.Mul, ["x", "s"], ["y"]));
        var otherCubic = NewGraph();
        TanhGelu(otherCubic, swapped: false, cubic: 0.05f);
        // x · HardSigmoid(x) with HardSigmoid's default α 0.2: not hard-swish.
        var defaultSlope = NewGraph();
        defaultSlope.Nodes.Add(new Node("gate", OpTypes.HardSigmoid, ["x"], ["s"]));
        defaultSlope.Nodes.Add(new Node("swish", OpTypes.Mul, ["x", "s"], ["y"]));
        foreach (var graph in new[] { cube, two, shared, broadcastBias, sharedGate, otherGate, otherCubic, defaultSlope })
        {
            var model = new GraphModule(graph);
            var compiled = InferenceEngine.Compile(model);
            Assert.Equal(EngineKind.Float, compiled.Kind);
            Assert.Same(model, compiled.Runner);
        }
    }
}
