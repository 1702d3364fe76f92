// GraphModule.RunOutputs against Run (the oracle: it keeps every value): on a graph where one intermediate value is read by
// two later nodes, another is an output read again afterwards, and one is computed but never read, the outputs are the
// same, in evaluation mode with gradients off (intermediates released) and in training mode with gradients on (kept).
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Graph;

public sealed class RunOutputsTests
{
    private static GraphModule Model()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [2, 4]));
        graph.Nodes.Add(new Node("fc", OpTypes.Gemm, ["x", "W", "b"], ["h"], new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) }));
        graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["h"], ["r"]));
        graph.Nodes.Add(new Node("unused", OpTypes.Neg, ["h"], ["dead"]));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["h"], ["first"]));
        graph.Nodes.Add(new Node("sum", OpTypes.Add, ["r", "first"], ["second"]));
        graph.Initializers.Add("W", Tensor.Uniform(new Rng(1), -1f, 1f, 3, 4));
        graph.Initializers.Add("b", Tensor.Uniform(new Rng(2), -1f, 1f, 3));
        graph.Trainable.UnionWith(["W", "b"]);
        graph.Outputs.Add(new ValueInfo("first", [2, 3]));
        graph.Outputs.Add(new ValueInfo("second", [2, 3]));
        return new GraphModule(graph);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RunOutputsGivesRunsOutputsAndNothingElse(bool training)
    {
        var model = Model();
        var feed = new Dictionary<string, Tensor> { ["x"] = Tensor.Uniform(new Rng(3), -1f, 1f, 2, 4) };
        if (training) model.Train(); else model.Eval();
        var all = model.Run(feed);
        Dictionary<string, Tensor> outputs;
        if (training) outputs = model.RunOutputs(feed);
        else using (GradMode.NoGrad()) outputs = model.RunOutputs(feed);

        Assert.Equal(["first", "second"], outputs.Keys.Order());
        foreach (var (name, value) in outputs) Assert.Equal(all[name].Data, value.Data);
        Assert.Contains("dead", all.Keys);
    }
}
