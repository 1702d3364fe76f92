// A zero Pad of the spatial axes folds into the Conv or AveragePool that reads it (PadFusion, run by the float engine's
// fusions): on small hand-built graphs — PyTorch's Pad + unpadded AveragePool (avg_pool2d with count_include_pad),
// Keras's Pad before a Conv, the opset-18 form with an axes input — the fused runner has no Pad left and computes the
// unfused graph's outputs (the oracle, Pad and op run as written); a Pad whose value, mode or axes differ, a pool whose
// divisor would change (count_include_pad 0 with its own pads, ceil mode), a Pad read twice and a MaxPool stay as they are.
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Tensors;

namespace Condense.Tests.Inference;

public class PadFusionTests
{
    private static ModelGraph NewGraph()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 9, 11]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3, -1, -1]));
        return graph;
    }

    private static void Ints(ModelGraph graph, string name, params long[] values) =>
        graph.Initializers[name] = Tensor.FromInt64s(values, DataType.Int64, values.Length);

    // x → Pad(pads, value, axes) → `padded`.
    private static void AddPad(ModelGraph graph, long[] pads, float? value = null, long[]? axes = null, string mode = "constant")
    {
        Ints(graph, "pads", pads);
        List<string> inputs = ["x", "pads"];
        if (value is { } v) { graph.Initializers["value"] = Tensor.Full(v, 1).Reshape([]); inputs.Add("value"); }
        if (axes is not null) { if (value is null) inputs.Add(""); Ints(graph, "axes", axes); inputs.Add("axes"); }
        graph.Nodes.Add(new Node("pad", OpTypes.Pad, inputs, ["padded"],
            new Dictionary<string, AttributeValue> { ["mode"] = AttributeValue.String(mode) }));
    }

    private static Node AveragePool(long[] pads, long stride = 1, long countIncludePad = 0, long ceil = 0) =>
        new("pool", OpTypes.AveragePool, ["padded"], ["y"], new Dictionary<string, AttributeValue>
        {
            ["kernel_shape"] = AttributeValue.Ints(3, 3), ["strides"] = AttributeValue.Ints(stride, stride), ["pads"] = AttributeValue.Ints(pads),
            ["count_include_pad"] = AttributeValue.Int(countIncludePad), ["ceil_mode"] = AttributeValue.Int(ceil),
        });

    private static float[] Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].Data;
    }

    // Compiles `graph` and returns the runner's nodes, after checking that it agrees with the graph run as written.
    private static List<Node> CompiledNodes(ModelGraph graph)
    {
        var model = new GraphModule(graph);
        var runner = Assert.IsType<GraphModule>(InferenceEngine.Compile(model).Runner);
        foreach (int batch in new[] { 1, 2 })
        {
            var x = Tensor.Uniform(new Rng((ulong)batch), -3f, 4f, batch, 3, 9, 11);
            var expected = Run(model, x);
            var actual = Run(runner, x);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"{i}: {expected[i]} vs {actual[i]}");
        }
        return runner.Graph.Nodes;
    }

    [Theory]
    [InlineData(1, 0L)]
    [InlineData(2, 0L)]
    [InlineData(1, 1L)]
    public void APadBeforeAnAveragePoolBecomesItsCountedPadding(long stride, long ownPad)
    {
        var graph = NewGraph();
        AddPad(graph, [0, 0, 1, 2, 0, 0, 3, 1]);
        graph.Nodes.Add(AveragePool([ownPad, ownPad, ownPad, ownPad], stride, countIncludePad: ownPad));
        var pool = Assert.Single(CompiledNodes(graph));
        Assert.Equal(OpTypes.AveragePool, pool.OpType);
        Assert.Equal(["x"], pool.Inputs);
        Assert.Equal([1 + ownPad, 2 + ownPad, 3 + ownPad, 1 + ownPad], pool.Attributes["pads"].IntsValue!);
        Assert.Equal(1, pool.Int("count_include_pad", 0));
    }

    [Fact]
    public void APadBeforeAConvBecomesItsPadding()
    {
        var graph = NewGraph();
        AddPad(graph, [2, 1, 0, 3], value: 0f, axes: [3, -2]);
        graph.Initializers["w"] = Tensor.Normal(new Rng(7), 0f, 1f, 3, 3, 3, 2);
        graph.Initializers["b"] = Tensor.Normal(new Rng(8), 0f, 1f, 3);
        graph.Nodes.Add(new Node("conv", OpTypes.Conv, ["padded", "w", "b"], ["y"], new Dictionary<string, AttributeValue>
        {
            ["strides"] = AttributeValue.Ints(2, 1), ["pads"] = AttributeValue.Ints(0, 1, 1, 0),
        }));
        var conv = Assert.Single(CompiledNodes(graph));
        Assert.Equal(["x", "w", "b"], conv.Inputs);
        // axes [3, −2]: width padded 2 before and 0 after, height 1 before and 3 after.
        Assert.Equal([1, 3, 4, 0], conv.Attributes["pads"].IntsValue!);
    }

    public static TheoryData<string> NearMisses() =>
        ["value 1", "reflect", "channel pads", "negative pads", "pool pads not counted", "ceil mode", "read twice", "max pool"];

    [Theory]
    [MemberData(nameof(NearMisses))]
    public void PadsThatWouldChangeTheResultStay(string nearMiss)
    {
        var graph = NewGraph();
        long[] pads = nearMiss switch
        {
            "channel pads" => [0, 1, 1, 1, 0, 0, 1, 1],
            "negative pads" => [0, 0, 1, -1, 0, 0, 1, 1],
            _ => [0, 0, 1, 1, 0, 0, 1, 1],
        };
        AddPad(graph, pads, value: nearMiss == "value 1" ? 1f : null, mode: nearMiss == "reflect" ? "reflect" : "constant");
        var pool = nearMiss switch
        {
            "pool pads not counted" => AveragePool([1, 0, 0, 1]),
            "ceil mode" => AveragePool([0, 0, 0, 0], stride: 2, ceil: 1),
            _ => AveragePool([0, 0, 0, 0]),
        };
        if (nearMiss == "max pool")
            pool = new Node("pool", OpTypes.MaxPool, ["padded"], ["y"],
                new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Ints(3, 3) });
        if (nearMiss == "channel pads") graph.Outputs[0] = new ValueInfo("y", [-1, 4, -1, -1]);
        graph.Nodes.Add(pool);
        if (nearMiss == "read twice")
        {
            graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["padded"], ["r"]));
            graph.Outputs.Add(new ValueInfo("r", [-1, 3, -1, -1]));
        }
        Assert.Contains(CompiledNodes(graph), n => n.OpType == OpTypes.Pad);
    }
}
