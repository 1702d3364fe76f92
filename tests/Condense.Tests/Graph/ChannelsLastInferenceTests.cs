// Channels-last inference (GraphModule.ChannelsLast.cs): a small MobileNetV2-style graph (a 3×3 stem, inverted residual
// blocks of 1×1 expansion with a batch norm, depthwise 3×3 at stride 1 and 2, 1×1 projection with a residual Add, ReLU6 as
// Clip, a 1×1 head, global average pooling, Flatten, Gemm) runs its chains channels-last (the stem reading the channels-first
// input) and matches the plain path (Run, every op as imported) and the channels-first fused path within float rounding, pass
// after pass; its inverted residual blocks (one whose expansion is the stem, one without) run as one banded pass with the bits
// of their chains run in turn; a channels-last value read by an op that wants channels-first (MaxPool) or returned as a
// graph output comes back channels-first; a ResNet (3×3 convolutions, three 1×1 shortcuts) does not take the path (nor do
// ShuffleNet-style blocks: ChannelsLastChoiceTests); by default only the AVX-512 path takes it.
using Condense.Autograd;
using Condense.Graph;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class ChannelsLastInferenceTests
{
    [Fact]
    public void AMobileNetRunsChannelsLastAndMatchesThePlainPath()
    {
        var graph = MobileNet(pooledMiddle: false);
        var x = Tensor.Uniform(new Rng(3), -1f, 1f, 3, 3, 16, 16);
        var model = Model(graph);
        var first = Model(graph);
        first.ChannelsLastInference = false;
        using (GradMode.NoGrad())
        {
            var plain = model.Run(x)["logits"];
            for (int pass = 0; pass < 3; pass++)
            {
                AssertClose(plain, model.Forward(x));
                AssertClose(plain, first.Forward(x));
            }
        }
        Assert.Equal(3 * 12, model.ChannelsLastRuns);  // every chain, the stem from the channels-first input
        Assert.Equal(3 * 4, model.InvertedBlockRuns);  // the four blocks as one pass each
        Assert.Equal(0, first.ChannelsLastRuns);
    }

    // An inverted residual block run band by band (GraphModule.InvertedResidual.cs) gives the bits of its three chains run in
    // turn channels-last: on small images (bands of four rows, sharing rows with the next), on 64×64 ones whose expanded
    // rows do not fit one band's buffer, and on an empty batch (which Flatten once turned into (0, 0)).
    [Theory]
    [InlineData(3, 16)]
    [InlineData(1, 128)]
    [InlineData(0, 16)]
    public void ABlockAsOnePassGivesTheBitsOfItsChains(int batch, int size)
    {
        var graph = MobileNet(pooledMiddle: false, size);
        var x = Tensor.Uniform(new Rng(6), -1f, 1f, batch, 3, size, size);
        var blocks = Model(graph);
        var chains = Model(graph);
        chains.InvertedBlockInference = false;
        using (GradMode.NoGrad())
            for (int pass = 0; pass < 2; pass++) Assert.Equal(chains.Forward(x).Data, blocks.Forward(x).Data);
        Assert.Equal(2 * 4, blocks.InvertedBlockRuns);
        Assert.Equal(0, chains.InvertedBlockRuns);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ValuesLeaveTheLayoutForOtherReadersAndAsOutputs(bool pooledMiddle)
    {
        var graph = MobileNet(pooledMiddle);
        graph.Outputs.Add(new ValueInfo("a.sum", [-1, 16, 8, 8]));
        var model = Model(graph);
        var x = Tensor.Uniform(new Rng(4), -1f, 1f, 2, 3, 16, 16);
        var feed = new Dictionary<string, Tensor> { ["input"] = x };
        using (GradMode.NoGrad())
        {
            var plain = model.Run(x);
            for (int pass = 0; pass < 2; pass++)
            {
                var outputs = model.RunOutputs(feed);
                AssertClose(plain["logits"], outputs["logits"]);
                AssertClose(plain["a.sum"], outputs["a.sum"]);
            }
        }
        Assert.True(model.ChannelsLastRuns > 0);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ByDefaultOnlyTheAvx512PathRunsChannelsLast(KernelPath path)
    {
        using var _ = Cpu.Force(path);
        var model = new GraphModule(MobileNet(pooledMiddle: false)) { FusedInference = true };
        model.Eval();
        var x = Tensor.Uniform(new Rng(7), -1f, 1f, 2, 3, 16, 16);
        using (GradMode.NoGrad()) AssertClose(model.Run(x)["logits"], model.Forward(x));
        Assert.Equal(path == KernelPath.Avx512, model.ChannelsLastRuns > 0);
    }

    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    // MobileNetV1 (Howard et al. 2017): depthwise → 1×1 → depthwise → 1×1 …, each 1×1 both the end of one block and the input of
    // the next. A chain belongs to one block at most: the blocks are (stem, dw, 1×1), then (dw, 1×1) without an expansion.
    [Fact]
    public void AChainOfDepthwiseSeparableLayersRunsAsBlocksThatDoNotOverlap()
    {
        var rng = new Rng(1704);
        var graph = new ModelGraph { Opset = 13 };
        graph.Inputs.Add(new ValueInfo("input", [-1, 3, 32, 32]));
        string Conv(string name, string input, int cin, int cout, int kernel, int stride, int groups)
        {
            graph.Initializers[name + ".w"] = Tensor.Uniform(rng, -0.4f, 0.4f, cout, cin / groups, kernel, kernel);
            graph.Initializers[name + ".b"] = Tensor.Uniform(rng, -0.1f, 0.1f, cout);
            int pad = kernel / 2;
            var attributes = new Dictionary<string, AttributeValue>
            {
                ["group"] = AttributeValue.Int(groups), ["pads"] = AttributeValue.Ints(pad, pad, pad, pad), ["strides"] = AttributeValue.Ints(stride, stride),
            };
            graph.Nodes.Add(new Node(name, OpTypes.Conv, [input, name + ".w", name + ".b"], [name + ".y"], attributes));
            graph.Nodes.Add(new Node(name + ".relu", OpTypes.Relu, [name + ".y"], [name + ".r"]));
            return name + ".r";
        }
        string x = Conv("stem", "input", 3, 16, 3, 2, 1);
        int channels = 16;
        foreach (var (width, stride, i) in new[] { (24, 1, 0), (32, 2, 1), (32, 1, 2), (48, 2, 3) })
        {
            x = Conv($"dw{i}", x, channels, channels, 3, stride, channels);
            x = Conv($"pw{i}", x, channels, width, 1, 1, 1);
            channels = width;
        }
        graph.Nodes.Add(new Node("gap", OpTypes.GlobalAveragePool, [x], ["gap.y"]));
        graph.Outputs.Add(new ValueInfo("gap.y", [-1, channels, 1, 1]));
        var model = Model(graph);
        var x0 = Tensor.Uniform(new Rng(8), -1f, 1f, 2, 3, 32, 32);
        using (GradMode.NoGrad())
        {
            var plain = model.Run(x0)["gap.y"];
            for (int pass = 0; pass < 2; pass++) AssertClose(plain, model.Forward(x0));
        }
        Assert.Equal(2 * 4, model.InvertedBlockRuns);
        Assert.Equal(2 * 9, model.ChannelsLastRuns);
    }

    // MobileNetV3 (Howard et al. 2019) layers between the convolutions: HardSwish after a chain, a squeeze-and-excitation
    // scale (global average pool → 1×1 → ReLU → 1×1 → HardSigmoid → Mul with the (N, C, 1, 1) scale), a Mul by a scalar and a
    // Div by a per-channel (1, C, 1, 1) constant, a Sub of two images: all run on the channels-last values; the result matches
    // the plain path.
    [Fact]
    public void ElementwiseLayersAndASqueezeAndExcitationRunOnChannelsLastValues()
    {
        var rng = new Rng(2019);
        var graph = new ModelGraph { Opset = 14 };
        graph.Inputs.Add(new ValueInfo("input", [-1, 3, 16, 16]));
        string Node(string op, string[] inputs, Dictionary<string, AttributeValue>? attributes = null)
        {
            string output = $"v{graph.Nodes.Count}";
            graph.Nodes.Add(new Node(output, op, inputs, [output], attributes));
            return output;
        }
        string Conv(string input, int cin, int cout, int kernel, int stride, int groups)
        {
            string w = $"w{graph.Initializers.Count}", b = $"b{graph.Initializers.Count}";
            graph.Initializers[w] = Tensor.Uniform(rng, -0.4f, 0.4f, cout, cin / groups, kernel, kernel);
            graph.Initializers[b] = Tensor.Uniform(rng, -0.1f, 0.1f, cout);
            int pad = kernel / 2;
            return Node(OpTypes.Conv, [input, w, b], new()
            {
                ["group"] = AttributeValue.Int(groups), ["pads"] = AttributeValue.Ints(pad, pad, pad, pad),
                ["strides"] = AttributeValue.Ints(stride, stride),
            });
        }
        graph.Initializers["half"] = Tensor.Scalar(0.5f);
        graph.Initializers["perChannel"] = Tensor.Uniform(rng, 0.5f, 2f, 1, 32, 1, 1);
        string x = Node(OpTypes.HardSwish, [Conv("input", 3, 16, 3, 2, 1)]);
        string e = Node(OpTypes.HardSwish, [Conv(x, 16, 32, 1, 1, 1)]);
        string d = Node(OpTypes.HardSwish, [Conv(e, 32, 32, 3, 1, 32)]);
        string squeeze = Node(OpTypes.Relu, [Conv(Node(OpTypes.GlobalAveragePool, [d]), 32, 8, 1, 1, 1)]);
        string scale = Node(OpTypes.HardSigmoid, [Conv(squeeze, 8, 32, 1, 1, 1)]);
        string excited = Node(OpTypes.Div, [Node(OpTypes.Mul, [Node(OpTypes.Mul, [d, scale]), "half"]), "perChannel"]);
        string p = Conv(excited, 32, 16, 1, 1, 1);
        string y = Node(OpTypes.Sub, [Node(OpTypes.Add, [p, x]), Node(OpTypes.Sigmoid, [x])]);
        string head = Node(OpTypes.LeakyRelu, [Conv(Conv(y, 16, 16, 3, 1, 16), 16, 24, 1, 1, 1)]);
        graph.Nodes.Add(new Node("gap", OpTypes.GlobalAveragePool, [head], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 24, 1, 1]));
        var model = Model(graph);
        var input = Tensor.Uniform(new Rng(9), -1f, 1f, 2, 3, 16, 16);
        using (GradMode.NoGrad())
        {
            var plain = model.Run(input)["out"];
            for (int pass = 0; pass < 2; pass++) AssertClose(plain, model.Forward(input));
        }
        Assert.True(model.ChannelsLastRuns > 0);
    }

    [Fact]
    public void AResNetStaysChannelsFirst()
    {
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("resnet-mini,width=8").Build(3), [784])) { ChannelsLastInference = true };
        model.Eval();
        using (GradMode.NoGrad()) model.Forward(Tensor.Uniform(new Rng(5), 0f, 1f, 2, 784));
        Assert.Equal(0, model.ChannelsLastRuns);
    }

    // By default the layout is chosen where the AVX-512 kernels run; forced on here, so every machine tests it.
    private static GraphModule Model(ModelGraph graph)
    {
        var model = new GraphModule(graph) { FusedInference = true, PooledFrom = 0, ChannelsLastInference = true };
        model.Eval();
        return model;
    }

    private static void AssertClose(Tensor expected, Tensor actual) => TensorAsserts.Close(expected, actual, 2e-5f);

    // input (N, 3, size, size) → stem 3×3/2 → block z (the stem as its expansion: depthwise 16, 16 → 16) → block a (16 → 48 → 16,
    // stride 1, residual) [→ MaxPool 3×3/1] → block b (16 → 48 → 24, stride 2) → block c (no expansion: depthwise 24, 24 → 24,
    // residual) → head 1×1 24 → 40 → global average pool → Flatten → Gemm → logits (N, 10).
    private static ModelGraph MobileNet(bool pooledMiddle, int size = 16)
    {
        var graph = new ModelGraph { Opset = 13 };
        var rng = new Rng(2018);
        graph.Inputs.Add(new ValueInfo("input", [-1, 3, size, size]));
        graph.Initializers["zero"] = Tensor.Scalar(0f);
        graph.Initializers["six"] = Tensor.Scalar(6f);
        string Conv(string name, string input, int cin, int cout, int kernel, int stride, int groups, bool clip, bool batchNorm = false)
        {
            float bound = MathF.Sqrt(6f / (cin / groups * kernel * kernel));
            graph.Initializers[name + ".w"] = Tensor.Uniform(rng, -bound, bound, cout, cin / groups, kernel, kernel);
            graph.Initializers[name + ".b"] = Tensor.Uniform(rng, -0.1f, 0.1f, cout);
            int pad = kernel / 2;
            graph.Nodes.Add(new Node(name, OpTypes.Conv, [input, name + ".w", name + ".b"], [name + ".y"], new Dictionary<string, AttributeValue>
            {
                ["group"] = AttributeValue.Int(groups), ["pads"] = AttributeValue.Ints(pad, pad, pad, pad),
                ["strides"] = AttributeValue.Ints(stride, stride),
            }));
            string output = name + ".y";
            if (batchNorm)
            {
                graph.Initializers[name + ".gamma"] = Tensor.Uniform(rng, 0.5f, 1.5f, cout);
                graph.Initializers[name + ".beta"] = Tensor.Uniform(rng, -0.2f, 0.2f, cout);
                graph.Initializers[name + ".mean"] = Tensor.Uniform(rng, -0.2f, 0.2f, cout);
                graph.Initializers[name + ".var"] = Tensor.Uniform(rng, 0.5f, 2f, cout);
                graph.Nodes.Add(new Node(name + ".bn", OpTypes.BatchNormalization,
                    [output, name + ".gamma", name + ".beta", name + ".mean", name + ".var"], [name + ".n"]));
                output = name + ".n";
            }
            if (!clip) return output;
            graph.Nodes.Add(new Node(name + ".relu6", OpTypes.Clip, [output, "zero", "six"], [name + ".c"]));
            return name + ".c";
        }
        string x = Conv("stem", "input", 3, 16, 3, 2, 1, clip: true);
        x = Conv("z.dw", x, 16, 16, 3, 1, 16, clip: true);
        x = Conv("z.project", x, 16, 16, 1, 1, 1, clip: false);
        string a = Conv("a.expand", x, 16, 48, 1, 1, 1, clip: true, batchNorm: true);
        a = Conv("a.dw", a, 48, 48, 3, 1, 48, clip: true);
        a = Conv("a.project", a, 48, 16, 1, 1, 1, clip: false);
        graph.Nodes.Add(new Node("a.add", OpTypes.Add, [a, x], ["a.sum"]));
        string b = "a.sum";
        if (pooledMiddle)
        {
            graph.Nodes.Add(new Node("pool", OpTypes.MaxPool, [b], ["pooled"], new Dictionary<string, AttributeValue>
                { ["kernel_shape"] = AttributeValue.Ints(3, 3), ["pads"] = AttributeValue.Ints(1, 1, 1, 1) }));
            b = "pooled";
        }
        b = Conv("b.expand", b, 16, 48, 1, 1, 1, clip: true);
        b = Conv("b.dw", b, 48, 48, 3, 2, 48, clip: true);
        b = Conv("b.project", b, 48, 24, 1, 1, 1, clip: false);
        string c = Conv("c.dw", b, 24, 24, 3, 1, 24, clip: true);
        c = Conv("c.project", c, 24, 24, 1, 1, 1, clip: false);
        graph.Nodes.Add(new Node("c.add", OpTypes.Add, [c, b], ["c.sum"]));
        string head = Conv("head", "c.sum", 24, 40, 1, 1, 1, clip: true);
        graph.Nodes.Add(new Node("gap", OpTypes.GlobalAveragePool, [head], ["gap.y"]));
        graph.Nodes.Add(new Node("flatten", OpTypes.Flatten, ["gap.y"], ["flat"]));
        graph.Initializers["fc.w"] = Tensor.Uniform(rng, -0.3f, 0.3f, 10, 40);
        graph.Initializers["fc.b"] = Tensor.Uniform(rng, -0.1f, 0.1f, 10);
        graph.Nodes.Add(new Node("fc", OpTypes.Gemm, ["flat", "fc.w", "fc.b"], ["logits"],
            new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("logits", [-1, 10]));
        return graph;
    }
}
