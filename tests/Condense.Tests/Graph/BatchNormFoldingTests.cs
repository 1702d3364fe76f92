// Batch-norm folding: the folded graph has no BatchNormalization left where one follows a Conv or Linear
// alone, and computes the unfolded graph's outputs (evaluation mode) within 1e-5 relative on random
// inputs — LeNet-5 with BN after every layer, and resnet-mini with non-trivial running statistics.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class BatchNormFoldingTests
{
    // LeNet-5 with BatchNorm2d after each conv and BatchNorm1d after the first two Linear layers.
    internal static Sequential LeNet5WithBatchNorm(ulong seed)
    {
        var rng = new Rng(seed);
        var model = new Sequential(
            new Unflatten(1, 28, 28),
            new Conv2d(1, 6, 5, padding: 2, rng: rng), new BatchNorm2d(6), new ReLU(), new MaxPool2d(2),
            new Conv2d(6, 16, 5, bias: false, rng: rng), new BatchNorm2d(16), new ReLU(), new MaxPool2d(2),
            new Flatten(),
            new Linear(400, 120, rng: rng), new BatchNorm1d(120), new ReLU(),
            new Linear(120, 84, bias: false, rng: rng), new BatchNorm1d(84), new ReLU(),
            new Linear(84, 10, rng: rng));
        Randomize(model, seed + 1);
        return model;
    }

    // Running statistics and affine parameters away from their (1, 0) initial values, so folding has work to do.
    internal static void Randomize(Module model, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var bn in model.NamedModules().Select(m => m.Module).OfType<BatchNorm>())
            for (int c = 0; c < bn.NumFeatures; c++)
            {
                bn.Weight.Data[c] = 0.5f + rng.NextFloat();
                bn.Bias.Data[c] = rng.NextNormal() * 0.2f;
                bn.RunningMean.Data[c] = rng.NextNormal() * 0.3f;
                bn.RunningVar.Data[c] = 0.2f + rng.NextFloat();
            }
    }

    [Fact]
    public void LeNet5WithBatchNormFoldsEveryBatchNormAndKeepsItsOutputs()
    {
        var model = new GraphModule(GraphTracer.Trace(LeNet5WithBatchNorm(1), [784]));
        var (folded, report) = BatchNormFolding.Fold(model);
        Assert.Equal(4, report.Folded.Count);
        Assert.Empty(report.Left);
        Assert.DoesNotContain(folded.Graph.Nodes, n => n.OpType == "BatchNormalization");
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "BatchNormalization");   // the input is not changed
        Assert.Contains(report.Folded, f => f.Bias == "5.bias");                     // the bias-free conv got one
        AssertSameOutputs(model, folded, RandomInput(7, 784, 2));
    }

    [Fact]
    public void ResNetMiniFoldsEveryBatchNormAndKeepsItsOutputs()
    {
        var module = ModelSpec.Parse("resnet-mini,width=8").Build(3);
        Randomize(module, 4);
        var model = new GraphModule(GraphTracer.Trace(module, [784]));
        int batchNorms = model.Graph.Nodes.Count(n => n.OpType == "BatchNormalization");
        var (folded, report) = BatchNormFolding.Fold(model);
        Assert.Equal(batchNorms, report.Folded.Count);
        Assert.DoesNotContain(folded.Graph.Nodes, n => n.OpType == "BatchNormalization");
        AssertSameOutputs(model, folded, RandomInput(5, 784, 6));
    }

    [Fact]
    public void BatchNormWhoseInputHasAnotherConsumerIsLeft()
    {
        // conv → BN → add(BN, conv output): folding would change the conv output the Add also reads.
        var rng = new Rng(8);
        var conv = new Conv2d(2, 3, 3, padding: 1, rng: rng);
        var bn = new BatchNorm2d(3);
        Randomize(bn, 9);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 2, 6, 6]));
        graph.Initializers["w"] = conv.Weight.Clone(); graph.Initializers["b"] = conv.Bias!.Clone();
        foreach (var (name, t) in new[] { ("g", bn.Weight), ("beta", bn.Bias), ("m", bn.RunningMean), ("v", bn.RunningVar) })
            graph.Initializers[name] = t.Clone();
        var convAttributes = new Dictionary<string, AttributeValue>
        {
            ["pads"] = AttributeValue.Ints(1, 1, 1, 1),
            ["kernel_shape"] = AttributeValue.Ints(3, 3),
        };
        graph.Nodes.Add(new Node("conv", "Conv", ["x", "w", "b"], ["y"], convAttributes));
        graph.Nodes.Add(new Node("bn", "BatchNormalization", ["y", "g", "beta", "m", "v"], ["z"]));
        graph.Nodes.Add(new Node("add", "Add", ["z", "y"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 3, 6, 6]));
        var model = new GraphModule(graph);
        var (folded, report) = BatchNormFolding.Fold(model);
        Assert.Empty(report.Folded);
        Assert.Contains("other consumers", Assert.Single(report.Left).Reason);
        AssertSameOutputs(model, folded, RandomInput(2, 72, 10).Reshape(2, 2, 6, 6));
    }

    private static Tensor RandomInput(int n, int features, ulong seed)
    {
        var rng = new Rng(seed);
        var x = Tensor.Zeros(n, features);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat();
        return x;
    }

    internal static void AssertSameOutputs(GraphModule expected, GraphModule actual, Tensor input)
    {
        expected.Eval(); actual.Eval();
        Tensor a, b;
        using (GradMode.NoGrad()) { a = expected.Forward(input); b = actual.Forward(input); }
        Assert.Equal(a.Shape, b.Shape);
        float scale = a.Data.Max(Math.Abs);
        for (int i = 0; i < a.Size; i++)
            Assert.True(Math.Abs(a.Data[i] - b.Data[i]) <= 1e-5f * scale, $"output {i}: {a.Data[i]} vs {b.Data[i]}");
    }
}
