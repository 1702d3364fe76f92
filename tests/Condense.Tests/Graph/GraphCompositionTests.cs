// GraphComposition on graphs built here: the composed graph computes the second of the first, the second's names stay,
// colliding names of the first take "pre/", inputs match by name when there are several, mismatched connections are
// one-line errors naming both values, and a graph of an older opset written at the other's opset runs in ONNX Runtime.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Attributes = System.Collections.Generic.Dictionary<string, Condense.Graph.AttributeValue>;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Graph;

public sealed class GraphCompositionTests
{
    // x (1, n) → Mul by a weight named "w" in node "scale" → y.
    private static ModelGraph Scale(float[] weight, string input = "x", string output = "y")
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo(input, [1, weight.Length]));
        graph.Nodes.Add(new Node("scale", OpTypes.Mul, [input, "w"], [output]));
        graph.Initializers.Add("w", new Tensor(weight, weight.Length));
        graph.Trainable.Add("w");
        graph.Outputs.Add(new ValueInfo(output, [1, weight.Length]));
        return graph;
    }

    private static Dictionary<string, Tensor> Run(ModelGraph graph, params (string Name, Tensor Value)[] inputs)
    {
        var module = new GraphModule(graph);
        module.Eval();
        using var _ = GradMode.NoGrad();
        return module.Run(inputs.ToDictionary(i => i.Name, i => i.Value));
    }

    [Fact]
    public void CollidingNamesOfTheFirstTakeThePrefixAndTheSecondKeepsItsOwn()
    {
        var first = Scale([1f, 2f, 3f]);
        var second = Scale([10f, 20f, 30f]);
        second.Metadata["source"] = "second";
        first.Metadata["source"] = "first";
        first.Metadata["only-first"] = "kept";

        var composed = GraphComposition.Compose(first, second);

        Assert.Equal(["pre/x"], composed.Inputs.Select(i => i.Name));
        Assert.Equal(["y"], composed.Outputs.Select(o => o.Name));
        Assert.Equal(["pre/scale", "scale"], composed.Nodes.Select(n => n.Name));
        Assert.Equal(["pre/w", "w"], composed.Initializers.Keys);
        Assert.Equal(["pre/x", "pre/w"], composed.Nodes[0].Inputs);
        Assert.Equal(["x", "w"], composed.Nodes[1].Inputs);   // the first's output took the second's input name
        Assert.True(composed.Trainable.SetEquals(["pre/w", "w"]));
        Assert.Equal("second", composed.Metadata["source"]);
        Assert.Equal("kept", composed.Metadata["only-first"]);
        var x = new Tensor([1f, 1f, -1f], 1, 3);
        Assert.Equal([10f, 40f, -90f], Run(composed, ("pre/x", x))["y"].Data);
        Assert.Equal(["x"], first.Inputs.Select(i => i.Name));   // both graphs are left as they were
        Assert.Equal("x", second.Nodes[0].Inputs[0]);
    }

    [Fact]
    public void SeveralInputsMatchByNameAndUnmatchedOnesStayInputs()
    {
        // first: x → a (kept), x → b (feeds nothing); second reads a and its own c.
        var first = new ModelGraph();
        first.Inputs.Add(new ValueInfo("x", [1, 2]));
        first.Nodes.Add(new Node("relu", OpTypes.Relu, ["x"], ["a"]));
        first.Nodes.Add(new Node("neg", OpTypes.Neg, ["x"], ["b"]));
        first.Outputs.AddRange([new ValueInfo("a", [1, 2]), new ValueInfo("b", [1, 2])]);
        var second = new ModelGraph();
        second.Inputs.AddRange([new ValueInfo("a", [-1, 2]), new ValueInfo("c", [1, 2])]);
        second.Nodes.Add(new Node("add", OpTypes.Add, ["a", "c"], ["sum"]));
        second.Outputs.Add(new ValueInfo("sum", [1, 2]));

        var connections = GraphComposition.Connections(first, second);
        var composed = GraphComposition.Compose(first, second);

        Assert.Equal([("a", "a")], connections.Select(c => (c.Output.Name, c.Input.Name)));
        Assert.Equal(["x", "c"], composed.Inputs.Select(i => i.Name));
        Assert.Equal(["relu", "add"], composed.Nodes.Select(n => n.Name));   // "neg" fed only the unused output
        var sum = Run(composed, ("x", new Tensor([-1f, 2f], 1, 2)), ("c", new Tensor([5f, 5f], 1, 2)))["sum"];
        Assert.Equal([5f, 7f], sum.Data);
    }

    [Fact]
    public void APassedThroughInputReachesTheSecondThroughAnIdentity()
    {
        var first = new ModelGraph();
        first.Inputs.Add(new ValueInfo("x", [1, 3]));
        first.Outputs.Add(new ValueInfo("x", [1, 3]));
        var composed = GraphComposition.Compose(first, Scale([2f, 2f, 2f]));
        Assert.Equal(["pre/x"], composed.Inputs.Select(i => i.Name));
        Assert.Equal(OpTypes.Identity, composed.Nodes[0].OpType);
        Assert.Equal([2f, 4f, 6f], Run(composed, ("pre/x", new Tensor([1f, 2f, 3f], 1, 3)))["y"].Data);
    }

    [Theory]
    [InlineData(new[] { 1, 4 }, "float", "'y' [1, 4] (float) cannot feed the second's input 'x' [1, 5] (float): dimension 1 is 4, not 5")]
    [InlineData(new[] { 4 }, "float", "'y' [4] (float) cannot feed the second's input 'x' [1, 5] (float): rank 1 is not rank 2")]
    [InlineData(new[] { -1, 5 }, "int64", "'y' [?, 5] (int64) cannot feed the second's input 'x' [1, 5] (float): the element types differ")]
    public void MismatchedConnectionsAreOneLineErrorsNamingBothValues(int[] outputShape, string type, string message)
    {
        var first = Scale([1f, 1f, 1f, 1f]);
        first.Outputs[0] = new ValueInfo("y", outputShape) { DataType = type };
        var e = Assert.Throws<CondenseException>(() => GraphComposition.Compose(first, Scale([1f, 1f, 1f, 1f, 1f])));
        Assert.Equal("the first graph's output " + message, e.Message);
    }

    [Fact]
    public void DynamicSizesMatchAnySizeAndNoMatchingNameIsAnError()
    {
        var first = Scale([1f, 2f]);
        first.Outputs[0] = new ValueInfo("y", [-1, 2]);
        Assert.Single(GraphComposition.Compose(first, Scale([3f, 4f])).Outputs);

        var two = Scale([1f, 2f]);
        two.Outputs.Add(new ValueInfo("x", [1, 2]));
        var other = Scale([1f, 2f], input: "p");
        other.Inputs.Add(new ValueInfo("q", [1, 2]));
        var e = Assert.Throws<CondenseException>(() => GraphComposition.Compose(two, other));
        Assert.Equal("no output of the first graph ('y', 'x') has the name of an input of the second ('p', 'q')", e.Message);
    }

    [Fact]
    public void AnOpset8GraphAfterAnOpset13GraphIsWrittenInOpset13FormsAndRunsInOnnxRuntime()
    {
        // Opset-8 forms: BatchNormalization with spatial, Clip, Pad, Slice, ReduceSum, Squeeze and TopK with attributes.
        var old = new ModelGraph { Opset = 8 };
        old.Inputs.Add(new ValueInfo("x", [1, 2, 3, 4]));
        AttributeValue Ints(params long[] v) => AttributeValue.Ints(v);
        old.Nodes.AddRange([
            new Node("bn", OpTypes.BatchNormalization, ["x", "s", "b", "m", "v"], ["n"], new Attributes { ["spatial"] = AttributeValue.Int(1) }),
            new Node("clip", OpTypes.Clip, ["n"], ["c"], new Attributes { ["min"] = AttributeValue.Float(-0.5f), ["max"] = AttributeValue.Float(0.7f) }),
            new Node("pad", OpTypes.Pad, ["c"], ["p"], new Attributes { ["pads"] = Ints(0, 0, 1, 1, 0, 0, 1, 1), ["value"] = AttributeValue.Float(0.25f) }),
            new Node("slice", OpTypes.Slice, ["p"], ["sl"], new Attributes { ["starts"] = Ints(1), ["ends"] = Ints(5), ["axes"] = Ints(3) }),
            new Node("sum", OpTypes.ReduceSum, ["sl"], ["r"], new Attributes { ["axes"] = Ints(1), ["keepdims"] = AttributeValue.Int(1) }),
            new Node("squeeze", OpTypes.Squeeze, ["r"], ["q"], new Attributes { ["axes"] = Ints(1) }),
            new Node("top", OpTypes.TopK, ["q"], ["values", "indices"], new Attributes { ["k"] = AttributeValue.Int(2) }),
        ]);
        foreach (var (name, a, b) in new[] { ("s", 1.5f, 0.5f), ("b", 0.1f, -0.2f), ("m", 0.2f, -0.1f), ("v", 1f, 2f) })
            old.Initializers.Add(name, new Tensor([a, b], 2));
        old.Outputs.Add(new ValueInfo("values", [1, 5, 2]));
        var built = Scale([1f, 2f, 3f, 4f], input: "image", output: "scaled");
        built.Inputs[0] = new ValueInfo("image", [1, 2, 3, 4]);
        built.Outputs[0] = new ValueInfo("scaled", [1, 2, 3, 4]);

        var composed = GraphComposition.Compose(built, old);

        Assert.Equal(OnnxExporter.Opset, composed.Opset);
        var model = OnnxExporter.ToModel(composed);
        Assert.Equal(OnnxExporter.Opset, model.OpsetImport.Single().Version);
        Assert.DoesNotContain(model.Graph.Node.SelectMany(n => n.Attribute), a => a.Name is "spatial" or "min" or "pads" or "starts" or "axes" or "k");
        var x = Tensor.Uniform(new Rng(3), -1f, 1f, 1, 2, 3, 4);
        var expected = TypedParity.RunOnnxRuntime(model, [("image", x)])["values"];
        Assert.Null(OnnxConformanceTests.OutputMismatch("opset 8 after 13", "values", expected, Run(composed, ("image", x))["values"]));
    }
}
