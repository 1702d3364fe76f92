// The graph view: tracing a model, executing and training the traced graph, input reshaping,
// unsupported ops, validation, and the JSON form of a graph's structure.
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Optim;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class GraphTests
{
    private static Tensor Input(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1f, 1f, shape);

    [Fact]
    public void TracingAnMlpGivesOnnxShapedGraph()
    {
        var model = ModelSpec.Parse("mlp:784-128-10").Build();
        var graph = GraphTracer.Trace(model, [784]);

        Assert.Equal(["Flatten", "Gemm", "Relu", "Gemm"], graph.Nodes.Select(n => n.OpType));
        Assert.Equal(["/0/Flatten", "/1/Gemm", "/2/Relu", "/3/Gemm"], graph.Nodes.Select(n => n.Name));
        Assert.All(graph.Nodes.Where(n => n.OpType == "Gemm"), n => Assert.Equal(1L, n.Attributes["transB"].IntValue));
        Assert.Equal(1L, graph.Nodes[0].Attributes["axis"].IntValue);

        var input = Assert.Single(graph.Inputs);
        Assert.Equal("input", input.Name);
        Assert.Equal([-1, 784], input.Shape);
        var output = Assert.Single(graph.Outputs);
        Assert.Equal("logits", output.Name);
        Assert.Equal([-1, 10], output.Shape);

        Assert.Equal(["input"], graph.Nodes[0].Inputs);
        Assert.Equal(["logits"], graph.Nodes[^1].Outputs);
        Assert.Equal([graph.Nodes[2].Outputs[0], "3.weight", "3.bias"], graph.Nodes[3].Inputs);

        Assert.Equal(model.StateDict().Keys, graph.Initializers.Keys);
        Assert.True(graph.Trainable.SetEquals(model.StateDict().Keys));
        foreach (var (name, t) in model.StateDict()) Assert.Same(t, graph.Initializers[name]);
        graph.Validate();
    }

    [Fact]
    public void TracingLeavesTheTrainingModeAsItWas()
    {
        var model = ModelSpec.Parse("mlp:7-5-3,dropout=0.5").Build();
        GraphTracer.Trace(model, [7]);
        Assert.True(model.Training);
        model.Eval();
        GraphTracer.Trace(model, [7]);
        Assert.False(model.Training);
    }

    [Fact]
    public void GraphModuleGivesBitIdenticalOutputs()
    {
        var model = ModelSpec.Parse("mlp:784-128-10").Build(seed: 3);
        var module = new GraphModule(GraphTracer.Trace(model, [784]));
        var x = Input(1, 5, 784);
        Assert.Equal(model.Forward(x).Data, module.Forward(x).Data);
        Assert.Equal([5, 10], module.Forward(x).Shape);
        Assert.Equal([784], module.SampleShape);
        Assert.Equal(model.NamedParameters().Select(p => p.Name), module.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void GraphModuleTrainsLikeTheModule()
    {
        var spec = ModelSpec.Parse("mlp:31-33-7");
        var model = spec.Build(seed: 4);
        var module = new GraphModule(GraphTracer.Trace(spec.Build(seed: 4), [31]));
        var x = Input(2, 9, 31);
        int[] labels = [0, 1, 2, 3, 4, 5, 6, 0, 3];

        Losses.CrossEntropy(model.Forward(x), labels).Backward();
        var loss0 = Losses.CrossEntropy(module.Forward(x), labels);
        loss0.Backward();

        // Gradients reach every parameter and agree with the module's.
        var expected = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.Data);
        foreach (var (name, p) in module.NamedParameters())
        {
            Assert.NotNull(p.Grad);
            Assert.Contains(p.Grad.Data, g => g != 0f);
            Assert.Equal(expected[name], p.Grad.Data);
        }

        new Sgd(module.Parameters(), 0.1f).Step();
        var loss1 = Losses.CrossEntropy(module.Forward(x), labels);
        Assert.True(loss1.Item() < loss0.Item(), $"loss went from {loss0.Item()} to {loss1.Item()}");
    }

    private static ModelGraph ImageFlattenGraph()
    {
        // x (N, 1, 3, 5) → Flatten → y (N, 15)
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 1, 3, 5]));
        graph.Nodes.Add(new Node("/Flatten", "Flatten", ["x"], ["y"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("y", [-1, 15]));
        return graph;
    }

    [Fact]
    public void GraphModuleReshapesFlatRowsToTheDeclaredInput()
    {
        var module = new GraphModule(ImageFlattenGraph());
        var x = Input(3, 2, 15);
        var values = module.Run(x);
        Assert.Equal([2, 1, 3, 5], values["x"].Shape);
        Assert.Equal(x.Data, values["y"].Data);
        Assert.Equal([2, 15], values["y"].Shape);
        Assert.Equal([1, 3, 5], module.SampleShape);

        // Input already in the declared shape passes unchanged.
        var image = Input(4, 3, 1, 3, 5);
        Assert.Same(image, module.Run(image)["x"]);
    }

    [Theory]
    [InlineData(2, 14)]
    [InlineData(2, 3, 3, 5)]
    [InlineData(2, 1, 5, 3)]
    public void GraphModuleRejectsIncompatibleInput(params int[] shape)
    {
        var module = new GraphModule(ImageFlattenGraph());
        var e = Assert.Throws<CondenseException>(() => module.Forward(Tensor.Zeros(shape)));
        Assert.Contains("'x'", e.Message);
        Assert.Contains(Shape.Format(shape), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnsupportedOpIsNamedWithNodeAndSupportedList()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 1, 8, 8]));
        graph.Initializers.Add("w", Tensor.Zeros(4, 1, 3, 3));
        graph.Nodes.Add(new Node("/roi/GridSample", "GridSample", ["x", "w"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4, 6, 6]));

        var e = Assert.Throws<CondenseException>(() => new GraphModule(graph));
        Assert.Contains("'GridSample'", e.Message);
        Assert.Contains("/roi/GridSample", e.Message);
        foreach (var op in GraphOps.Supported) Assert.Contains(op, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnOpsOwnErrorWhileRunningNamesItsNode()
    {
        // A conv bias one value short: the kernel's check says what is wrong, the graph adds where.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 1, 8, 8]));
        graph.Initializers.Add("w", Tensor.Zeros(4, 1, 3, 3));
        graph.Initializers.Add("b", Tensor.Zeros(3));
        graph.Nodes.Add(new Node("/stem/Conv", OpTypes.Conv, ["x", "w", "b"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4, 6, 6]));

        var e = Assert.Throws<CondenseException>(() => new GraphModule(graph).Forward(Tensor.Zeros(1, 1, 8, 8)));
        Assert.StartsWith("node '/stem/Conv' (Conv): ", e.Message);
        Assert.Contains("bias", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ValidateCatchesUndefinedInput()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Nodes.Add(new Node("/Add", "Add", ["x", "bias"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4]));
        var e = Assert.Throws<CondenseException>(graph.Validate);
        Assert.Contains("'bias'", e.Message);
        Assert.Contains("/Add", e.Message);
    }

    [Fact]
    public void ValidateCatchesUseBeforeDefinition()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Nodes.Add(new Node("/b", "Relu", ["a"], ["y"]));
        graph.Nodes.Add(new Node("/a", "Relu", ["x"], ["a"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4]));
        Assert.Throws<CondenseException>(graph.Validate);
    }

    [Fact]
    public void ValidateCatchesValueDefinedTwice()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Nodes.Add(new Node("/r1", "Relu", ["x"], ["y"]));
        graph.Nodes.Add(new Node("/r2", "Relu", ["y"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4]));
        var e = Assert.Throws<CondenseException>(graph.Validate);
        Assert.Contains("'y'", e.Message);
        Assert.Contains("twice", e.Message);

        // Overwriting a graph input is a second definition too.
        var overwrite = new ModelGraph();
        overwrite.Inputs.Add(new ValueInfo("x", [-1, 4]));
        overwrite.Nodes.Add(new Node("/r", "Relu", ["x"], ["x"]));
        overwrite.Outputs.Add(new ValueInfo("x", [-1, 4]));
        Assert.Throws<CondenseException>(overwrite.Validate);
    }

    [Fact]
    public void ValidateCatchesOutputNeverComputed()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Nodes.Add(new Node("/r", "Relu", ["x"], ["y"]));
        graph.Outputs.Add(new ValueInfo("z", [-1, 4]));
        Assert.Throws<CondenseException>(graph.Validate);
    }

    private static ModelGraph GraphWithEveryAttributeKind()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3]));
        graph.Initializers.Add("w", new Tensor([1f, 2f, 3f, 4f, 5f, 6f], 2, 3));
        graph.Initializers.Add("mask", new Tensor([1f, 0f], 2));
        graph.Trainable.Add("w");
        graph.Nodes.Add(new Node("/Gemm", "Gemm", ["x", "w", ""], ["h"], new Dictionary<string, AttributeValue>
        {
            ["transB"] = AttributeValue.Int(1),
            ["alpha"] = AttributeValue.Float(0.1f),
            ["big"] = AttributeValue.Int(long.MaxValue),
            ["mode"] = AttributeValue.String("constant \"quoted\" ü"),
            ["pads"] = AttributeValue.Ints(0, -1, 2, 3_000_000_000),
            ["scales"] = AttributeValue.Floats(1.5f, -0.25f, 1e-7f, 3.4e38f),
        }));
        graph.Nodes.Add(new Node("/Mul", "Mul", ["h", "mask"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 2]));
        return graph;
    }

    [Fact]
    public void GraphJsonRoundTripPreservesStructure()
    {
        var graph = GraphWithEveryAttributeKind();
        string json = GraphJson.Serialize(graph);
        var back = GraphJson.Deserialize(json, graph.Initializers.ToDictionary(), "test.safetensors");

        Assert.Equal(graph.Inputs.Select(v => (v.Name, string.Join(",", v.Shape))), back.Inputs.Select(v => (v.Name, string.Join(",", v.Shape))));
        Assert.Equal(graph.Outputs.Select(v => (v.Name, string.Join(",", v.Shape))), back.Outputs.Select(v => (v.Name, string.Join(",", v.Shape))));
        Assert.Equal(graph.Nodes.Count, back.Nodes.Count);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            Node a = graph.Nodes[i], b = back.Nodes[i];
            Assert.Equal(a.Name, b.Name);
            Assert.Equal(a.OpType, b.OpType);
            Assert.Equal(a.Inputs, b.Inputs);
            Assert.Equal(a.Outputs, b.Outputs);
            Assert.Equal(a.Attributes.Keys.Order(), b.Attributes.Keys.Order());
            foreach (var (name, value) in a.Attributes)
            {
                var other = b.Attributes[name];
                Assert.Equal(value.Kind, other.Kind);
                Assert.Equal(value.IntValue, other.IntValue);
                Assert.Equal(value.FloatValue, other.FloatValue);
                Assert.Equal(value.StringValue, other.StringValue);
                Assert.Equal(value.IntsValue, other.IntsValue);
                Assert.Equal(value.FloatsValue, other.FloatsValue);
            }
        }
        Assert.Equal(["w", "mask"], back.Initializers.Keys);
        Assert.Same(graph.Initializers["w"], back.Initializers["w"]);
        Assert.Equal(["w"], back.Trainable);
        Assert.Equal(json, GraphJson.Serialize(back));
    }

    [Fact]
    public void GraphJsonMissingTensorNamesTheTensorAndSource()
    {
        var graph = GraphWithEveryAttributeKind();
        string json = GraphJson.Serialize(graph);
        var tensors = new Dictionary<string, Tensor> { ["w"] = graph.Initializers["w"] };
        var e = Assert.Throws<InvalidFileException>(() => GraphJson.Deserialize(json, tensors, "/some/dir/m.safetensors"));
        Assert.Contains("'mask'", e.Message);
        Assert.StartsWith("m.safetensors:", e.Message);
    }
}
