// The integer conv engine on MobileNet-style networks: a small float CNN (Conv 3→8 3×3, Relu, depthwise Conv 3×3 stride 2,
// Relu or Clip(0, 6), Conv 1×1 8→16, GlobalAveragePool, Flatten, Gemm) quantized static compiles to IntegerConvModel, its
// depthwise layer run by QDepthwiseConv2d (planar after a planar layer), and matches the float simulation of its QDQ graph: step by step (each
// step fed the simulation's codes) every code within one step (the fixed-point requantization against the simulation's
// float arithmetic next to a rounding boundary), end to end the logits within a few percent of their range. A channel
// multiplier (depthwise 8 → 16) runs too, and so do depthwise layers between wide (channels-last where native) layers and
// under a residual Add; a grouped conv that is not depthwise is still refused in one line.
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Quantization;
using Xunit.Abstractions;

namespace Condense.Tests.Inference;

public sealed class IntegerConvDepthwiseTests(ITestOutputHelper output)
{
    private static readonly int[] Sample = [3, 15, 15];

    private static ModelGraph MobileNetLike(string activation = OpTypes.Relu, int multiplier = 1, int groups = 8)
    {
        var graph = new LayerGraphs(Sample, 7).Conv("c1", 3, 8, 3).Op("r1", OpTypes.Relu)
            .Conv("dw", 8, 8 * multiplier, 3, group: groups, stride: 2);
        graph = activation == OpTypes.Clip ? graph.Op("r2", OpTypes.Clip, Tensor.Scalar(0f), Tensor.Scalar(6f)) : graph.Op("r2", OpTypes.Relu);
        return graph.Conv("pw", 8 * multiplier, 16, 1).Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten)
            .Gemm("fc", 16, 10).Build();
    }

    private static GraphModule Quantized(ModelGraph graph) =>
        Quantizer.Quantize(new GraphModule(graph), new QuantizeOptions(), BiasCorrectionTests.Batches(11, 4, Sample, 0, 2)).Model;

    [Theory]
    [InlineData(OpTypes.Relu, 1)]
    [InlineData(OpTypes.Clip, 1)]
    [InlineData(OpTypes.Clip, 1, true)]
    [InlineData(OpTypes.Relu, 2)]
    public void CompilesToTheIntegerEngineAndMatchesTheFloatSimulation(string activation, int multiplier, bool clipAttributes = false)
    {
        var qdq = Quantized(MobileNetLike(activation, multiplier));
        // Calibrated after the Clip, the codes end at its max; a lower max (set after quantizing) makes the clamp at Q(max) bite.
        if (activation == OpTypes.Clip) qdq = new GraphModule(WithClipMax(qdq.Graph, "r2", 0.6f, clipAttributes));
        var compiled = InferenceEngine.Compile(qdq);
        Assert.True(compiled.Kind == EngineKind.IntegerConv, compiled.FallbackReason);
        var engine = (IntegerConvModel)compiled.Runner;
        Assert.Equal(4, engine.LayerCount);
        var depthwise = Assert.Single(engine.Steps.OfType<IntegerConvModel.LayerStep>(), l => l.Depthwise is not null);
        Assert.False(depthwise.ChannelsLast);   // its input (8 channels) is planar
        Assert.True(depthwise.Requantized);
        output.WriteLine($"depthwise clamp [{depthwise.QMin}, {depthwise.QMax}]");
        if (activation == OpTypes.Clip) Assert.True(depthwise.QMax < byte.MaxValue, $"Clip clamps at code {depthwise.QMax}");
        Assert.DoesNotContain(engine.Steps, s => s is IntegerConvModel.FloatNodeStep { Node.OpType: OpTypes.Relu or OpTypes.Clip });

        AssertMatchesTheSimulation(qdq, engine, Tensor.Uniform(new Rng(99), 0, 2, [16, .. Sample]));
    }

    // Wide enough for channels-last layers where that is native (QConv2d.ChannelsLastSuits): the depthwise layers keep their
    // input's channels-last layout there (QDepthwiseConv2d.ForwardChannelsLast; planar elsewhere) with no layout step
    // between the convolutions, and a residual Add of a depthwise output runs as its own step; every int8 dot product (each
    // compiled model) gives the same bits.
    [Fact]
    public void DepthwiseLayersBetweenChannelsLastLayersAndAResidualAdd()
    {
        var graph = new LayerGraphs(Sample, 5).Conv("c1", 3, 32, 3).Op("r1", OpTypes.Relu).Conv("c2", 32, 64, 3).Op("r2", OpTypes.Relu)
            .Conv("dw1", 64, 64, 3, group: 64).Op("r3", OpTypes.Relu).Add("add", "r2_out")
            .Conv("dw2", 64, 64, 3, group: 64, stride: 2).Op("r4", OpTypes.Relu).Conv("pw", 64, 64, 1).Op("r5", OpTypes.Relu)
            .Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten).Gemm("fc", 64, 10).Build();
        var qdq = Quantized(graph);
        var engine = IntegerConvModel.Compile(qdq.Graph);
        var layers = engine.Steps.OfType<IntegerConvModel.LayerStep>().ToList();
        Assert.Equal(2, layers.Count(l => l.Depthwise is not null));
        Assert.All(layers.Where(l => l.Depthwise is not null), l => Assert.Equal(QConv2d.ChannelsLastIsNative, l.ChannelsLast));
        if (QConv2d.ChannelsLastIsNative)
            // Only at the edges: the input into channels-last, the last codes back to planes for the Gemm.
            Assert.Equal([true, false], engine.Steps.OfType<IntegerConvModel.LayoutStep>().Select(l => l.ToChannelsLast));
        Assert.Single(engine.Steps.OfType<IntegerConvModel.AddStep>());
        Assert.Equal(0, engine.FusedAddCount);
        var x = Tensor.Uniform(new Rng(98), 0, 2, [4, .. Sample]);
        AssertMatchesTheSimulation(qdq, engine, x);
        var expected = engine.Forward(x).Data;
        foreach (var dot in Cpu.SupportedInt8Dots)
            using (Cpu.Force(dot))
                Assert.Equal(expected, IntegerConvModel.Compile(qdq.Graph).Forward(x).Data);
    }

    // MobileNetV2's head: 1×1 conv → Clip(0, 6) → GlobalAveragePool. The pooling reads floats, so no QuantizeLinear follows the
    // Clip for it to fold into the codes: the layer writes floats clamped to the Clip's bounds (its max lowered so that it
    // cuts), the pooling is the engine's mean, and the model still compiles.
    [Fact]
    public void AClipBeforeAFloatPoolingFoldsIntoTheFloatLayer()
    {
        var graph = new LayerGraphs(Sample, 9).Conv("c1", 3, 8, 3).Op("r1", OpTypes.Relu).Conv("dw", 8, 8, 3, group: 8)
            .Op("r2", OpTypes.Clip, Tensor.Scalar(0f), Tensor.Scalar(6f)).Conv("pw", 8, 16, 1).Op("r3", OpTypes.Clip, Tensor.Scalar(0f), Tensor.Scalar(6f))
            .Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten).Gemm("fc", 16, 10).Build();
        var qdq = new GraphModule(WithClipMax(Quantized(graph).Graph, "r3", 0.5f, attributes: false));
        var compiled = InferenceEngine.Compile(qdq);
        Assert.True(compiled.Kind == EngineKind.IntegerConv, compiled.FallbackReason);
        var engine = (IntegerConvModel)compiled.Runner;
        Assert.DoesNotContain(engine.Steps, s => s is IntegerConvModel.FloatNodeStep);
        var pointwise = engine.Steps.OfType<IntegerConvModel.LayerStep>().Single(l => l.Name == "pw");
        Assert.False(pointwise.Requantized);
        Assert.Equal((0f, 0.5f), (pointwise.FloatMin, pointwise.FloatMax));
        Assert.Single(engine.Steps.OfType<IntegerConvModel.MeanStep>());
        var x = Tensor.Uniform(new Rng(97), 0, 2, [8, .. Sample]);
        AssertMatchesTheSimulation(qdq, engine, x);
        qdq.Eval();
        Dictionary<string, Tensor> sim;
        using (GradMode.NoGrad()) sim = qdq.Run(x);
        Assert.Contains(sim["r3_out"].Data, v => v == 0.5f);
    }

    // torchvision's x.mean([2, 3]) head (MNASNet): a ReduceMean over height and width, axes as opset 13's attribute or opset
    // 18's input, with or without keepdims, is the engine's mean over each plane like a GlobalAveragePool (it sent the whole
    // model to the float simulation); over other axes it runs as the graph's own float op.
    [Theory]
    [InlineData(false, false, new long[] { 2, 3 })]
    [InlineData(true, true, new long[] { -1, -2 })]
    [InlineData(false, true, new long[] { 1, 2 })]
    public void AReduceMeanHeadRunsInTheIntegerEngine(bool axesInput, bool keepDims, long[] axes)
    {
        var attributes = new Dictionary<string, AttributeValue> { ["keepdims"] = AttributeValue.Int(keepDims ? 1 : 0) };
        if (!axesInput) attributes["axes"] = AttributeValue.Ints(axes);
        var graph = new LayerGraphs(Sample, 8).Conv("c1", 3, 8, 3).Op("r1", OpTypes.Relu).Conv("dw", 8, 8, 3, group: 8, stride: 2)
            .Op("r2", OpTypes.Relu).Conv("pw", 8, 16, 1).Op("r3", OpTypes.Relu)
            .Op("mean", OpTypes.ReduceMean, attributes, axesInput ? Tensor.FromInt64s(axes, DataType.Int64, 2) : null);
        bool spatial = axes.Select(a => a < 0 ? a + 4 : a).Order().SequenceEqual([2L, 3L]);
        // (16, 8, 8) after the last conv: 16 means over height and width, or 8 over the channels and the height (the width's 8 left).
        var model = (keepDims ? graph.Op("flat", OpTypes.Flatten) : graph).Gemm("fc", spatial ? 16 : 8, 10).Build();
        var qdq = Quantized(model);
        var compiled = InferenceEngine.Compile(qdq);
        Assert.True(compiled.Kind == EngineKind.IntegerConv, compiled.FallbackReason);
        var engine = (IntegerConvModel)compiled.Runner;
        Assert.Equal(spatial ? 1 : 0, engine.Steps.OfType<IntegerConvModel.MeanStep>().Count());
        Assert.Equal(spatial ? 0 : 1, engine.Steps.OfType<IntegerConvModel.FloatNodeStep>().Count(f => f.Node.OpType == OpTypes.ReduceMean));
        AssertMatchesTheSimulation(qdq, engine, Tensor.Uniform(new Rng(96), 0, 2, [8, .. Sample]));
    }

    // Step by step (each step fed the simulation's codes) every code within one step, 99 % equal; the logits within 5 % of their range.
    private void AssertMatchesTheSimulation(GraphModule qdq, IntegerConvModel engine, Tensor x)
    {
        qdq.Eval();
        Dictionary<string, Tensor> sim;
        using (GradMode.NoGrad()) sim = qdq.Run(x);
        StepwiseCodes.AssertWithinOneStep(engine, x, sim, output);

        var expectedLogits = sim[qdq.Graph.Outputs[0].Name];
        var logits = engine.Forward(x);
        Assert.Equal(expectedLogits.Shape, logits.Shape);
        float range = expectedLogits.Data.Max(MathF.Abs);
        float worst = expectedLogits.Data.Zip(logits.Data, (a, b) => MathF.Abs(a - b)).Max() / range;
        output.WriteLine($"logits max relative difference {worst:G3}");
        Assert.True(worst <= 0.05f, $"logits differ by {worst:G3} of their range");
    }

    // The Clip's max set to `max`: its input (opset 11 on), or with `attributes` both bounds as attributes (opset 6).
    private static ModelGraph WithClipMax(ModelGraph graph, string clip, float max, bool attributes)
    {
        var node = graph.Nodes.Single(n => n.Name == clip);
        graph.Initializers[node.Inputs[2]] = Tensor.Scalar(max);
        if (!attributes) return graph;
        node.Attributes["min"] = AttributeValue.Float(graph.Initializers[node.Inputs[1]].Data[0]);
        node.Attributes["max"] = AttributeValue.Float(max);
        node.Inputs.RemoveRange(1, 2);
        return graph;
    }

    [Fact]
    public void AGroupedConvolutionThatIsNotDepthwiseIsRefusedInOneLine()
    {
        var graph = new LayerGraphs(Sample, 3).Conv("c1", 3, 4, 3).Op("r1", OpTypes.Relu).Conv("g2", 4, 4, 3, group: 2).Op("r2", OpTypes.Relu)
            .Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten).Gemm("fc", 4, 3).Build();
        var qdq = Quantized(graph);
        Assert.False(IntegerConvModel.CanCompile(qdq.Graph, out string reason));
        Assert.Contains("'g2' has 2 groups on 4 channels", reason);
        Assert.DoesNotContain('\n', reason);
        var compiled = InferenceEngine.Compile(qdq);
        Assert.Equal(EngineKind.Float, compiled.Kind);
        Assert.Contains("groups", compiled.FallbackReason);
    }
}
