// A Gemm and the Relu or exact Gelu after it compile into one FusedGemm (Inference/GemmActivationFusion), directly or through
// the Reshape a MatMul + bias rewrite leaves before the activation; the fused runner gives the bits of the graph as written on
// every kernel path (the epilogue's bits are the separate ops', Kernels/GemmEpilogueTests), trains to the same gradients, and
// a Gemm whose output something else reads too, or a tanh Gelu, stays as it is.
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Inference;

public class GemmActivationFusionTests
{
    // x [batch, 37] → Gemm(W1ᵀ, b1) → Relu → Gemm(W2ᵀ, b2) → Relu → Gemm(W3ᵀ, b3) → y: LeNet-300-100's shape, smaller.
    private static ModelGraph Mlp()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 37]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 10]));
        int[] widths = [37, 45, 19, 10];
        var transB = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        string input = "x";
        for (int layer = 0; layer < 3; layer++)
        {
            graph.Initializers[$"w{layer}"] = Tensor.Uniform(new Rng((ulong)layer + 1), -0.5f, 0.5f, widths[layer + 1], widths[layer]);
            graph.Initializers[$"b{layer}"] = Tensor.Uniform(new Rng((ulong)layer + 11), -0.5f, 0.5f, widths[layer + 1]);
            graph.Trainable.Add($"w{layer}");
            graph.Trainable.Add($"b{layer}");
            string product = layer == 2 ? "y" : $"h{layer}";
            graph.Nodes.Add(new Node($"fc{layer}", OpTypes.Gemm, [input, $"w{layer}", $"b{layer}"], [product], transB));
            if (layer == 2) break;
            graph.Nodes.Add(new Node($"relu{layer}", OpTypes.Relu, [product], [$"r{layer}"]));
            input = $"r{layer}";
        }
        return graph;
    }

    private static float[] Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.RunOutputs(new Dictionary<string, Tensor> { ["x"] = x })["y"].Data;
    }

    private static GraphModule Compiled(ModelGraph graph) => Assert.IsType<GraphModule>(InferenceEngine.Compile(new GraphModule(graph)).Runner);

    public static TheoryData<KernelPath> Paths() => [.. Cpu.SupportedPaths];

    [Theory]
    [MemberData(nameof(Paths))]
    public void ReluLayersFuseWithTheGraphsBits(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var graph = Mlp();
        var runner = Compiled(graph);
        Assert.Equal([OpTypes.FusedGemm, OpTypes.FusedGemm, OpTypes.Gemm], runner.Graph.Nodes.Select(n => n.OpType));
        Assert.All(runner.Graph.Nodes.Take(2), n => Assert.Equal("Relu", n.Attributes["activation"].StringValue));
        Assert.Equal(5, graph.Nodes.Count);
        foreach (int batch in new[] { 1, 2, 29 })
        {
            var x = Tensor.Uniform(new Rng((ulong)batch), -2f, 2f, batch, 37);
            Assert.Equal(Run(new GraphModule(graph), x), Run(runner, x));
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void GeluAfterAReshapedMatMulFuses(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var graph = new ModelGraph { Opset = 20 };
        graph.Inputs.Add(new ValueInfo("x", [-1, 5, 37]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 5, 70]));
        graph.Initializers["w"] = Tensor.Uniform(new Rng(5), -1f, 1f, 37, 70);
        graph.Initializers["b"] = Tensor.Uniform(new Rng(6), -1f, 1f, 70);
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["x", "w"], ["h"]));
        graph.Nodes.Add(new Node("bias", OpTypes.Add, ["h", "b"], ["z"]));
        graph.Nodes.Add(new Node("gelu", OpTypes.Gelu, ["z"], ["y"]));
        var runner = Compiled(graph);
        Assert.Equal([OpTypes.Reshape, OpTypes.Shape, OpTypes.Concat, OpTypes.FusedGemm, OpTypes.Reshape],
            runner.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal("Gelu", runner.Graph.Nodes.Single(n => n.OpType == OpTypes.FusedGemm).Attributes["activation"].StringValue);
        foreach (int batch in new[] { 1, 3 })
        {
            var x = Tensor.Uniform(new Rng((ulong)batch), -2f, 2f, batch, 5, 37);
            var y = Run(runner, x);
            Assert.Equal(Run(new GraphModule(graph), x), y);
            Assert.Equal(batch * 5 * 70, y.Length);
        }
    }

    [Fact]
    public void TrainsToTheUnfusedGradients()
    {
        var graph = Mlp();
        var fused = new GraphModule(Assert.IsType<GraphModule>(InferenceEngine.Compile(new GraphModule(graph)).Runner).Graph);
        var plain = new GraphModule(graph);
        var x = Tensor.Uniform(new Rng(3), -2f, 2f, 4, 37);
        float[] Gradient(GraphModule model)
        {
            model.Train();
            model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].Sum().Backward();
            var w = model.NamedParameters().Single(p => p.Name == "w0").Parameter;
            var gradient = w.Grad!.Data.ToArray();
            model.ZeroGrad();
            return gradient;
        }
        Assert.Equal(Gradient(plain), Gradient(fused));
    }

    [Fact]
    public void SharedOutputsAndTanhGeluStayUnfused()
    {
        var shared = Mlp();
        shared.Outputs.Add(new ValueInfo("h0", [-1, 45]));
        Assert.Single(Compiled(shared).Graph.Nodes, n => n.OpType == OpTypes.FusedGemm);
        var tanh = Mlp();
        tanh.Opset = 20;
        foreach (var node in tanh.Nodes.Where(n => n.OpType == OpTypes.Relu))
        {
            node.OpType = OpTypes.Gelu;
            node.Attributes["approximate"] = AttributeValue.String("tanh");
        }
        Assert.DoesNotContain(Compiled(tanh).Graph.Nodes, n => n.OpType == OpTypes.FusedGemm);
    }
}
