// BatchDimension on graphs built here: a graph declared for batch 1 that does not depend on it runs batches once made
// dynamic (and is written with dim_param "batch"); graphs that fix the batch are refused with the node that does it,
// found by reading the graph or, when the graph hides it, by running a batch of 2; dynamic graphs come back as they are.
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Graph;

public sealed class BatchDimensionTests
{
    // x → Gemm(W, b, transB) → Relu → y, declared as [batch, 4] → [batch, 3].
    private static GraphModule Linear(int batch = 1)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [batch, 4]));
        graph.Nodes.Add(new Node("fc", OpTypes.Gemm, ["x", "W", "b"], ["h"], new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) }));
        graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["h"], ["y"]));
        graph.Initializers.Add("W", Tensor.Uniform(new Rng(1), -1f, 1f, 3, 4));
        graph.Initializers.Add("b", Tensor.Uniform(new Rng(2), -1f, 1f, 3));
        graph.Trainable.UnionWith(["W", "b"]);
        graph.Outputs.Add(new ValueInfo("y", [batch, 3]));
        return new GraphModule(graph);
    }

    // x (1, 2, 3) through the given nodes (the last writes y); constants as initializers.
    private static GraphModule Graph(Node[] nodes, int[] outputShape, params (string Name, Tensor Value)[] constants)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [1, 2, 3]));
        graph.Nodes.AddRange(nodes);
        foreach (var (name, value) in constants) graph.Initializers.Add(name, value);
        graph.Outputs.Add(new ValueInfo("y", outputShape));
        return new GraphModule(graph);
    }

    private static Tensor Longs(params long[] values) => Tensor.FromInt64s(values, DataType.Int64, values.Length);

    [Fact]
    public void ABatchOneGraphThatDoesNotDependOnItRunsBatchesOnceDynamic()
    {
        var model = Linear();
        model.Eval();
        Assert.Equal(BatchSupport.Yes, BatchDimension.Check(model));
        Assert.False(model.Training);   // the mode is restored

        var dynamic = BatchDimension.MakeDynamic(model);

        Assert.Equal([-1, 4], dynamic.Graph.Inputs[0].Shape);
        Assert.Equal([-1, 3], dynamic.Graph.Outputs[0].Shape);
        Assert.Equal("[batch, 4]", dynamic.Graph.Inputs[0].FormatShape());
        Assert.Equal([1, 4], model.Graph.Inputs[0].Shape);   // the original keeps its declaration
        Assert.Equal(model.Graph.Nodes.Select(n => n.ToString()), dynamic.Graph.Nodes.Select(n => n.ToString()));
        var input = OnnxExporter.ToModel(dynamic.Graph).Graph.Input[0].Type.TensorType.Shape.Dim;
        Assert.Equal([BatchDimension.Name, ""], input.Select(d => d.DimParam));
        Assert.Equal(5, dynamic.Forward(Tensor.Uniform(new Rng(3), -1f, 1f, 5, 4)).Shape[0]);
    }

    [Fact]
    public void ADynamicGraphIsReturnedAsItIs()
    {
        var model = Linear(batch: -1);
        Assert.Same(model, BatchDimension.MakeDynamic(model));
        Assert.True(BatchDimension.Check(model).CanBatch);
    }

    [Fact]
    public void AReshapeToAConstantShapeStartingWithOneIsNamed()
    {
        var model = Graph([new Node("flatten", OpTypes.Reshape, ["x", "shape"], ["y"])], [1, 6], ("shape", Longs(1, -1)));
        var support = BatchDimension.Check(model);
        Assert.False(support.CanBatch);
        Assert.Equal("node 'flatten' (Reshape) reshapes a batch value to the constant shape [1, -1], fixing the batch at 1", support.Reason);
        var e = Assert.Throws<CondenseException>(() => BatchDimension.MakeDynamic(model));
        Assert.Equal("the model cannot run batches: " + support.Reason, e.Message);
    }

    [Fact]
    public void AClassTokenExpandedToOneSampleAndConcatenatedIsNamed()
    {
        // The form a ViT exported for batch 1 takes: cls [1, 1, 3] expanded to the constant shape [1, 1, 3], then joined to the tokens.
        var model = Graph(
            [
                new Node("expand", OpTypes.Expand, ["cls", "shape"], ["token"]),
                new Node("join", OpTypes.Concat, ["token", "x"], ["y"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(1) }),
            ],
            [1, 3, 3], ("cls", Tensor.Uniform(new Rng(4), -1f, 1f, 1, 1, 3)), ("shape", Longs(1, 1, 3)));
        var reason = BatchDimension.Check(model).Reason;
        Assert.Equal("node 'join' (Concat) concatenates batch values with the constant 'token' of shape [1, 1, 3], made by node 'expand' (Expand) "
            + "from constants: its first dimension is fixed at 1", reason);
    }

    [Theory]
    [InlineData(OpTypes.Flatten, "axis", 0L, "node 'n' (Flatten) flattens at axis 0, folding the batch into one row")]
    [InlineData(OpTypes.Softmax, "axis", 0L, "node 'n' (Softmax) normalizes over the batch axis")]
    [InlineData(OpTypes.Squeeze, null, 0L, "node 'n' (Squeeze) squeezes every axis of size 1, the batch among them")]
    [InlineData(OpTypes.ReduceMean, "axes", 0L, "node 'n' (ReduceMean) reduces over the batch axis")]
    public void NodesUsingTheBatchAxisAsDataAreNamed(string op, string? attribute, long value, string reason)
    {
        var attributes = new Dictionary<string, AttributeValue>();
        if (attribute == "axes") attributes[attribute] = AttributeValue.Ints(value);
        else if (attribute is not null) attributes[attribute] = AttributeValue.Int(value);
        var model = Graph([new Node("n", op, ["x"], ["y"], attributes)], []);
        Assert.Equal(BatchSupport.No(reason), BatchDimension.Check(model));
    }

    [Fact]
    public void MixingHiddenFromTheGraphReadingIsFoundByRunningABatch()
    {
        // Transpose moves the batch to the last axis, where Softmax mixes the samples; the rules see only axis 2 of 3.
        var perm = new Dictionary<string, AttributeValue> { ["perm"] = AttributeValue.Ints(2, 1, 0) };
        var model = Graph(
            [
                new Node("t1", OpTypes.Transpose, ["x"], ["xt"], perm),
                new Node("softmax", OpTypes.Softmax, ["xt"], ["s"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(2) }),
                new Node("t2", OpTypes.Transpose, ["s"], ["y"], perm),
            ],
            [1, 2, 3]);
        var reason = BatchDimension.Check(model).Reason;
        Assert.StartsWith("output 'y' of sample 1 in a batch of 2 differs from its run alone by ", reason);
    }

    [Fact]
    public void InputsTheCheckCannotFeedAreNamed()
    {
        Assert.Equal("input 'x' [4, 4] is declared for a batch of 4, not 1", BatchDimension.Check(Linear(batch: 4)).Reason);
        var ids = new ModelGraph();
        ids.Inputs.Add(new ValueInfo("ids", [1, 8]) { DataType = "int64" });
        ids.Nodes.Add(new Node("cast", OpTypes.Cast, ["ids"], ["y"], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }));
        ids.Outputs.Add(new ValueInfo("y", [1, 8]));
        Assert.Equal("input 'ids' is int64: the check feeds random floating-point samples only", BatchDimension.Check(new GraphModule(ids)).Reason);
    }
}
