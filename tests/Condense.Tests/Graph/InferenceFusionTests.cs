// GraphModule's inference fast path (GraphModule.Inference.cs): in evaluation with gradients off, Forward runs
// Conv → BatchNormalization → Add → Relu chains as one convolution. Its outputs match the plain path (Run, which
// returns every value and never fuses) within 1e-5 relative on resnet-mini with non-trivial batch-norm statistics;
// a batch-norm parameter changed in place (MarkModified) or replaced is picked up; with gradients on, Forward is
// the plain path bit for bit and still trains; a broadcast Add is left to the plain op.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class InferenceFusionTests
{
    private static GraphModule ResNetMini()
    {
        var module = ModelSpec.Parse("resnet-mini,width=8").Build(3);
        BatchNormFoldingTests.Randomize(module, 4);
        var model = new GraphModule(GraphTracer.Trace(module, [784])) { FusedInference = true };
        model.Eval();
        return model;
    }

    private static Tensor Input(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = Tensor.Zeros(n, 784);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat();
        return x;
    }

    private static Tensor Plain(GraphModule model, Tensor x)
    {
        using (GradMode.NoGrad()) return model.Run(x)[model.Graph.Outputs[0].Name];
    }

    private static Tensor Fused(GraphModule model, Tensor x)
    {
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    private static void AssertClose(Tensor expected, Tensor actual) => TensorAsserts.Close(expected, actual, 1e-5f);

    [Fact]
    public void FusedForwardMatchesThePlainPath()
    {
        var model = ResNetMini();
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "Add");
        var x = Input(5, 1);
        AssertClose(Plain(model, x), Fused(model, x));
        AssertClose(Plain(model, x), Fused(model, x));   // the folded weights from the cache
        Dictionary<string, Tensor> outputs;
        using (GradMode.NoGrad()) outputs = model.RunOutputs(new Dictionary<string, Tensor> { [model.Graph.Inputs[0].Name] = x });
        AssertClose(Plain(model, x), Assert.Single(outputs).Value);
    }

    [Fact]
    public void ABlockInputReadByTwoChainsLivesUntilTheLaterOne()
    {
        // x → conv a → BN → add(·, shortcut) → relu, and x → conv b → BN (the shortcut): chain a runs at its relu,
        // after chain b, so x must outlive chain b although conv b is its last reader in graph order.
        var rng = new Rng(11);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 5, 5]));
        var pads = new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints(1, 1, 1, 1) };
        foreach (var (name, shape) in new[] { ("wa", new[] { 4, 3, 3, 3 }), ("wb", new[] { 4, 3, 1, 1 }) })
        {
            var w = Tensor.Zeros(shape);
            for (int i = 0; i < w.Size; i++) w.Data[i] = rng.NextFloat() - 0.5f;
            graph.Initializers[name] = w;
        }
        foreach (var p in new[] { "a", "b" })
        {
            graph.Initializers[$"g{p}"] = new Tensor([1.5f, 0.5f, 2f, 1f], [4]);
            graph.Initializers[$"beta{p}"] = new Tensor([0.1f, -0.2f, 0.3f, 0f], [4]);
            graph.Initializers[$"m{p}"] = new Tensor([0.2f, 0f, -0.1f, 0.4f], [4]);
            graph.Initializers[$"v{p}"] = new Tensor([1f, 0.5f, 2f, 0.8f], [4]);
        }
        graph.Nodes.Add(new Node("conva", "Conv", ["x", "wa"], ["ya"], pads));
        graph.Nodes.Add(new Node("bna", "BatchNormalization", ["ya", "ga", "betaa", "ma", "va"], ["za"]));
        graph.Nodes.Add(new Node("convb", "Conv", ["x", "wb"], ["yb"]));
        graph.Nodes.Add(new Node("bnb", "BatchNormalization", ["yb", "gb", "betab", "mb", "vb"], ["zb"]));
        graph.Nodes.Add(new Node("add", "Add", ["za", "zb"], ["s"]));
        graph.Nodes.Add(new Node("relu", "Relu", ["s"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 4, 5, 5]));
        var model = new GraphModule(graph) { FusedInference = true };
        model.Eval();
        var x = Tensor.Zeros(2, 3, 5, 5);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat() - 0.5f;
        AssertClose(Plain(model, x), Fused(model, x));
    }

    [Fact]
    public void ChangedBatchNormParametersAreFoldedAgain()
    {
        var model = ResNetMini();
        var x = Input(3, 2);
        Fused(model, x);
        var bn = model.Graph.Nodes.First(n => n.OpType == "BatchNormalization");
        var gamma = model.Graph.Initializers[bn.Inputs[1]];
        for (int i = 0; i < gamma.Size; i++) gamma.Data[i] *= 1.5f;
        gamma.MarkModified();
        AssertClose(Plain(model, x), Fused(model, x));
        var mean = model.Graph.Initializers[bn.Inputs[3]];
        var shifted = mean.Clone();
        for (int i = 0; i < shifted.Size; i++) shifted.Data[i] += 0.25f;
        model.Graph.Initializers[bn.Inputs[3]] = shifted;
        AssertClose(Plain(model, x), Fused(model, x));
    }

    [Fact]
    public void WithGradientsOnForwardIsThePlainPathAndTrains()
    {
        var model = ResNetMini();
        var x = Input(2, 3);
        var plain = Plain(model, x);
        var output = model.Forward(x);
        Assert.Equal(plain.Data, output.Data);
        output.Sum().Backward();
        Assert.Contains(model.Parameters(), p => p.Grad is { } g && g.Data.Any(v => v != 0f));
    }

    [Fact]
    public void BroadcastAddRunsAsThePlainOp()
    {
        // conv → add of a per-channel shift (3, 1, 1) → relu: the Add is not a residual of the output's shape.
        var rng = new Rng(8);
        var conv = new Conv2d(2, 3, 3, padding: 1, rng: rng);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 2, 6, 6]));
        graph.Initializers["w"] = conv.Weight.Clone();
        graph.Initializers["shift"] = new Tensor([0.5f, -1f, 2f], [3, 1, 1]);
        graph.Nodes.Add(new Node("conv", "Conv", ["x", "w"], ["y"], new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints(1, 1, 1, 1) }));
        graph.Nodes.Add(new Node("add", "Add", ["y", "shift"], ["z"]));
        graph.Nodes.Add(new Node("relu", "Relu", ["z"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 3, 6, 6]));
        var model = new GraphModule(graph) { FusedInference = true };
        model.Eval();
        var x = Tensor.Zeros(2, 2, 6, 6);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat() - 0.5f;
        using (GradMode.NoGrad()) Assert.Equal(model.Run(x)["out"].Data, model.Forward(x).Data);
    }

    [Fact]
    public void ALoneConvRunsOnItsPackedWeightUntilTheWeightChanges()
    {
        // conv → add of a per-channel shift: the Conv is a chain alone; its packed weight follows MarkModified.
        var rng = new Rng(9);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 2, 6, 6]));
        graph.Initializers["w"] = new Conv2d(2, 3, 3, padding: 1, rng: rng).Weight.Clone();
        graph.Initializers["shift"] = new Tensor([0.5f, -1f, 2f], [3, 1, 1]);
        graph.Nodes.Add(new Node("conv", "Conv", ["x", "w"], ["y"], new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints(1, 1, 1, 1) }));
        graph.Nodes.Add(new Node("add", "Add", ["y", "shift"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 3, 6, 6]));
        var model = new GraphModule(graph);
        model.Eval();
        var x = Tensor.Zeros(2, 2, 6, 6);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat() - 0.5f;
        using (GradMode.NoGrad())
        {
            Assert.Equal(model.Run(x)["out"].Data, model.Forward(x).Data);
            var w = graph.Initializers["w"];
            for (int i = 0; i < w.Size; i += 3) w.Data[i] = -2 * w.Data[i];
            w.MarkModified();
            Assert.Equal(model.Run(x)["out"].Data, model.Forward(x).Data);
        }
    }

    // conv (depthwise) → Clip(0, 1) with its bounds as inputs (ReLU6, scaled to the data); conv → Add → Clip(−0.25, 0.5) (a lower bound that is not the
    // kernel's Relu); conv → Clip with opset 6's attributes and only a max: each fused chain gives the plain path's bits.
    [Theory]
    [InlineData(0f, 1f, false, false)]
    [InlineData(-0.25f, 0.5f, true, false)]
    [InlineData(float.NegativeInfinity, 0.1f, false, true)]
    public void AClipAfterAConvRunsInTheChainWithThePlainBits(float min, float max, bool residual, bool attributes)
    {
        var rng = new Rng(12);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 16, 9, 9]));
        var w = Tensor.Zeros(16, 1, 3, 3);
        for (int i = 0; i < w.Size; i++) w.Data[i] = rng.NextFloat() - 0.5f;
        graph.Initializers["w"] = w;
        graph.Initializers["b"] = new Tensor(Enumerable.Range(0, 16).Select(i => 0.05f * (i - 8)).ToArray(), [16]);
        graph.Nodes.Add(new Node("conv", "Conv", ["x", "w", "b"], ["y"], new Dictionary<string, AttributeValue>
            { ["pads"] = AttributeValue.Ints(1, 1, 1, 1), ["group"] = AttributeValue.Int(16) }));
        string clipped = "y";
        if (residual) { graph.Nodes.Add(new Node("add", "Add", ["y", "x"], ["s"])); clipped = "s"; }
        if (attributes)
            graph.Nodes.Add(new Node("clip", "Clip", [clipped], ["out"], new Dictionary<string, AttributeValue> { ["max"] = AttributeValue.Float(max) }));
        else
        {
            graph.Initializers["lo"] = Tensor.Scalar(min);
            graph.Initializers["hi"] = Tensor.Scalar(max);
            graph.Nodes.Add(new Node("clip", "Clip", [clipped, "lo", "hi"], ["out"]));
        }
        graph.Outputs.Add(new ValueInfo("out", [-1, 16, 9, 9]));
        var model = new GraphModule(graph) { FusedInference = true };
        model.Eval();
        var x = Tensor.Zeros(2, 16, 9, 9);
        for (int i = 0; i < x.Size; i++) x.Data[i] = 4 * (rng.NextFloat() - 0.5f);
        using (GradMode.NoGrad())
        {
            var plain = model.Run(x)["out"].Data;
            Assert.Contains(plain, v => v == max);
            Assert.Equal(plain, model.Forward(x).Data);
        }
    }

    // A chain's output is written over its residual's array only when nothing reads the residual afterwards and the residual
    // is not the convolution's own input (GraphModule.Inference.cs): r read again after the chain, and conv(h) + h, keep
    // the plain path's bits; r read by the chain alone is overwritten (also the plain bits). Every array is pooled here.
    [Theory]
    [InlineData("read after the chain")]
    [InlineData("the convolution's input")]
    [InlineData("read by the chain alone")]
    public void AChainWritesOverItsResidualOnlyWhenNothingElseNeedsIt(string residual)
    {
        var rng = new Rng(12);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 6, 6]));
        var pads = new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints(1, 1, 1, 1) };
        graph.Initializers["wa"] = Uniform(rng, 3, 3, 3, 3);
        graph.Initializers["wb"] = Uniform(rng, 3, 3, 3, 3);
        graph.Nodes.Add(new Node("relu0", "Relu", ["x"], ["h"]));
        graph.Nodes.Add(new Node("convb", "Conv", ["h", "wb"], ["r"], pads));
        graph.Nodes.Add(new Node("conva", "Conv", ["h", "wa"], ["ya"], pads));
        graph.Nodes.Add(new Node("add", "Add", ["ya", residual == "the convolution's input" ? "h" : "r"], ["s"]));
        graph.Nodes.Add(new Node("relu", "Relu", ["s"], ["t"]));
        // r read again after the chain (into the output, or into a value nothing reads), or by the chain alone.
        if (residual != "read by the chain alone") graph.Nodes.Add(new Node("again", "Add", ["t", "r"], [residual == "read after the chain" ? "out" : "u"]));
        if (residual != "read after the chain") graph.Nodes.Add(new Node("last", "Identity", ["t"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 3, 6, 6]));
        AssertPooledForwardMatchesRun(graph, Uniform(rng, 2, 3, 6, 6));
    }

    // A stride-1 depthwise chain writes over its input's array when nothing reads the input afterwards
    // (Conv2dKernel.OutputMayOverwriteInput); an input read again later keeps its values. Every array is pooled here.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ADepthwiseChainWritesOverItsInputOnlyWhenNothingElseReadsIt(bool readAfter)
    {
        var rng = new Rng(13);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 16, 7, 7]));
        graph.Initializers["w"] = Uniform(rng, 16, 1, 3, 3);
        var attributes = new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints(1, 1, 1, 1), ["group"] = AttributeValue.Int(16) };
        graph.Nodes.Add(new Node("relu0", "Relu", ["x"], ["h"]));
        graph.Nodes.Add(new Node("dw", "Conv", ["h", "w"], ["d"], attributes));
        graph.Nodes.Add(new Node("relu", "Relu", ["d"], ["t"]));
        graph.Nodes.Add(readAfter ? new Node("again", "Add", ["t", "h"], ["out"]) : new Node("last", "Identity", ["t"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 16, 7, 7]));
        AssertPooledForwardMatchesRun(graph, Uniform(rng, 2, 16, 7, 7));
    }

    // Values uniform in [−0.5, 0.5).
    private static Tensor Uniform(Rng rng, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Size; i++) t.Data[i] = rng.NextFloat() - 0.5f;
        return t;
    }

    // The fused inference path, with every array pooled, gives the plain path's bits on three passes (the pool reused).
    private static void AssertPooledForwardMatchesRun(ModelGraph graph, Tensor x)
    {
        var model = new GraphModule(graph) { FusedInference = true, PooledFrom = 0 };
        model.Eval();
        using (GradMode.NoGrad())
            for (int pass = 0; pass < 3; pass++) Assert.Equal(model.Run(x)["out"].Data, model.Forward(x).Data);
    }
}
