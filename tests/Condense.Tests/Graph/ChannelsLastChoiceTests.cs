// Which graphs run channels-last (GraphModule.ChannelsLast.cs, LayoutBreaks): one whose chains would often hand their
// channels-last outputs to ops that need them channels-first stays channels-first, and computes what the plain path does.
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class ChannelsLastChoiceTests
{
    // ShuffleNet-style blocks: two branches of 1×1 and depthwise chains joined by a Concat, which would read both channels-last
    // outputs back every block. The graph runs channels-first (and computes what the plain path does).
    [Fact]
    public void ChainsThatFeedConcatsStayChannelsFirst()
    {
        var rng = new Rng(1807);
        var graph = new ModelGraph { Opset = 13 };
        graph.Inputs.Add(new ValueInfo("input", [-1, 8, 12, 12]));
        string Conv(string name, string input, int inputs, int outputs, int kernel, int groups)
        {
            graph.Initializers[name + ".w"] = Tensor.Uniform(rng, -0.5f, 0.5f, outputs, inputs / groups, kernel, kernel);
            graph.Nodes.Add(new Node(name, OpTypes.Conv, [input, name + ".w"], [name + ".y"], new Dictionary<string, AttributeValue>
                { ["group"] = AttributeValue.Int(groups), ["pads"] = AttributeValue.Ints(kernel / 2, kernel / 2, kernel / 2, kernel / 2) }));
            graph.Nodes.Add(new Node(name + ".relu", OpTypes.Relu, [name + ".y"], [name + ".r"]));
            return name + ".r";
        }
        // Per block three chains of the channels-last kinds and a grouped 1×1 of neither: the graph qualifies but for the Concats.
        string x = "input";
        for (int block = 0; block < 5; block++)
        {
            string left = Conv($"b{block}.left", x, 8, 8, 1, 1);
            string right = Conv($"b{block}.pw", Conv($"b{block}.dw", x, 8, 8, 3, 8), 8, 8, 1, 1);
            graph.Nodes.Add(new Node($"b{block}.concat", OpTypes.Concat, [left, right], [$"b{block}.cat"],
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(1) }));
            x = Conv($"b{block}.fuse", $"b{block}.cat", 16, 8, 1, 2);
        }
        graph.Outputs.Add(new ValueInfo(x, [-1, 8, 12, 12]));
        var model = new GraphModule(graph) { FusedInference = true, PooledFrom = 0, ChannelsLastInference = true };
        model.Eval();
        var input = Tensor.Uniform(new Rng(8), -1f, 1f, 2, 8, 12, 12);
        using (GradMode.NoGrad())
            TensorAsserts.Close(model.Run(input)[x], model.RunOutputs(new Dictionary<string, Tensor> { ["input"] = input })[x], 2e-5f);
        Assert.Equal(0, model.ChannelsLastRuns);
    }
}
