// The float simulation of a static-quantized graph the integer engines do not take (here PaddleOCR's classifier, whose input
// leaves the image size free) runs each activation's QuantizeLinear → DequantizeLinear pair as one QuantizeDequantizeLinear
// node: the compiled runner gives the plain graph's values bit for bit up to its Linear layers, which run on the integer
// GEMM (QuantizeMatMul) within float rounding. A pair whose codes something else reads stays.
// Weights' DequantizeLinears are folded to float initializers, so conv chains run as in a float graph (channels-last too).
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Quantization;
using Condense.Kernels.Platform;
using Condense.Tensors;
using Condense.Tests.Quantization;

namespace Condense.Tests.Inference;

public sealed class QuantizeDequantizeFusionTests
{
    private static Tensor Run(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    [Fact]
    public void TheFusedSimulationGivesTheQdqGraphsBits()
    {
        var model = ModelFile.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-paddle", "ch_ppocr_mobile_v2.0_cls_infer.onnx"));
        var images = new Dataset(Tensor.Uniform(new Rng(5), -1f, 1f, 8, 3, 48, 192).Data, null, [3, 48, 192]);
        var quantized = Quantizer.Quantize(model, images, new QuantizeOptions()).Model;
        var compiled = InferenceEngine.Compile(quantized);
        Assert.Equal(EngineKind.Float, compiled.Kind);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        int pairs = quantized.Graph.Nodes.Count(n => n.OpType == OpTypes.QuantizeLinear && !quantized.Graph.Initializers.ContainsKey(n.Inputs[0]));
        Assert.True(pairs > 50, $"{pairs} activation pairs");
        Assert.True(runner.Graph.Nodes.Count(n => n.OpType is OpTypes.QuantizeDequantizeLinear or OpTypes.QuantizeMatMul) >= pairs);
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.QuantizeLinear && !runner.Graph.Initializers.ContainsKey(n.Inputs[0]));
        foreach (var x in new[] { images.Samples([0, 1, 2]), Tensor.Uniform(new Rng(6), -3f, 3f, 1, 3, 64, 100) })
            AssertBitsUpToTheIntegerLinears(quantized, runner, x);
    }

    // A MobileNetV3-like graph (hard-swish, which the integer engine does not take): each weight's DequantizeLinear becomes the
    // float initializer it computes, so the convolutions read float weights as in a float graph. Channels-first that gives the
    // QDQ graph's outputs bit for bit; the default runs its 1×1 and depthwise chains channels-last (the fused pairs being
    // elementwise), within float rounding of it (a sum rounded otherwise can move a code by one step).
    [Fact]
    public void WeightsDequantizedOnceLetTheSimulationRunChannelsLast()
    {
        int[] sample = [3, 16, 16];
        var graph = new LayerGraphs(sample, 4).Conv("stem", 3, 16, 3, stride: 2).Op("hs1", OpTypes.HardSwish)
            .Conv("dw1", 16, 16, 3, group: 16).Op("r1", OpTypes.Relu).Conv("pw1", 16, 32, 1).Op("hs2", OpTypes.HardSwish)
            .Conv("dw2", 32, 32, 3, group: 32).Op("r2", OpTypes.Relu).Conv("pw2", 32, 16, 1)
            .Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten).Gemm("fc", 16, 10).Build();
        var x = Tensor.Uniform(new Rng(8), 0f, 2f, 8, 3, 16, 16);
        var quantized = Quantizer.Quantize(new GraphModule(graph), new Dataset(x.Data, null, sample), new QuantizeOptions()).Model;
        Assert.Equal(6, quantized.Graph.Nodes.Count(n => n.OpType == OpTypes.DequantizeLinear && quantized.Graph.Initializers.ContainsKey(n.Inputs[0])));
        var compiled = InferenceEngine.Compile(quantized);
        Assert.Equal(EngineKind.Float, compiled.Kind);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.DequantizeLinear);
        foreach (var layer in runner.Graph.Nodes.Where(n => n.OpType is OpTypes.Conv or OpTypes.Gemm))
            Assert.Equal(ElementType.Float32, runner.Graph.TypeOf(layer.Inputs[1]));
        var expected = Run(quantized, x).Data;

        var channelsLast = Run(runner, x).Data;
        Assert.True(runner.ChannelsLastRuns > 0, "no chain ran channels-last");
        float largest = expected.Max(MathF.Abs);
        Assert.All(expected.Zip(channelsLast), p => Assert.True(MathF.Abs(p.First - p.Second) <= 0.02f * largest, $"{p.First} vs {p.Second}"));

        var channelsFirst = Assert.IsType<GraphModule>(InferenceEngine.Compile(quantized).Runner);
        channelsFirst.ChannelsLastInference = false;
        AssertBitsUpToTheIntegerLinears(quantized, channelsFirst, x);
    }

    // Every value the runner shares with the QDQ graph has its bits up to the Linear layers the runner multiplies on the
    // integer GEMM (QuantizeMatMul: the same quantized inputs, exact integer sums, rounded once), whose outputs are within
    // float rounding.
    private static void AssertBitsUpToTheIntegerLinears(GraphModule quantized, GraphModule runner, Tensor x)
    {
        quantized.Eval();
        runner.Eval();
        Dictionary<string, Tensor> expected, actual;
        using (GradMode.NoGrad()) (expected, actual) = (quantized.Run(x), runner.Run(x));
        var integer = runner.Graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeMatMul).ToList();
        Assert.NotEmpty(integer);
        foreach (var linear in integer) Assert.Equal(expected[linear.Inputs[0]].Data, actual[linear.Inputs[0]].Data);
        string output = quantized.Graph.Outputs[0].Name;
        float largest = expected[output].Data.Max(MathF.Abs);
        Assert.All(expected[output].Data.Zip(actual[output].Data),
            p => Assert.True(MathF.Abs(p.First - p.Second) <= 1e-5f * largest, $"{p.First} vs {p.Second} of {largest}"));
    }

    [Fact]
    public void APairWhoseCodesAnotherOpReadsStaysAsItIs()
    {
        // x → Q → DQ → y, and the same codes cast to float → c: the pair is not fused; a second pair, with DQ alone, is.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Initializers["s"] = Tensor.Scalar(0.05f);
        graph.Initializers["z"] = Tensor.Scalar(7f);
        graph.ElementTypes["z"] = ElementType.UInt8;
        graph.Nodes.Add(new Node("q", OpTypes.QuantizeLinear, ["x", "s", "z"], ["codes"]));
        graph.Nodes.Add(new Node("dq", OpTypes.DequantizeLinear, ["codes", "s", "z"], ["y"]));
        graph.Nodes.Add(new Node("cast", OpTypes.Cast, ["codes"], ["c"], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }));
        graph.Nodes.Add(new Node("q2", OpTypes.QuantizeLinear, ["y", "s", "z"], ["codes2"]));
        graph.Nodes.Add(new Node("dq2", OpTypes.DequantizeLinear, ["codes2", "s", "z"], ["y2"]));
        graph.Outputs.Add(new ValueInfo("c", [-1, 4]));
        graph.Outputs.Add(new ValueInfo("y2", [-1, 4]));
        var fused = QuantizeDequantizeFusion.Fuse(graph)!;
        Assert.Equal([OpTypes.QuantizeLinear, OpTypes.DequantizeLinear, OpTypes.Cast, OpTypes.QuantizeDequantizeLinear], fused.Nodes.Select(n => n.OpType));
        var x = new Dictionary<string, Tensor> { ["x"] = Tensor.Uniform(new Rng(1), -2f, 14f, 3, 4) };
        var expected = new GraphModule(graph).Run(x);
        var actual = new GraphModule(fused).Run(x);
        Assert.Equal(expected["y2"].Data, actual["y2"].Data);
        Assert.Equal(expected["c"].Data, actual["c"].Data);
    }

    // DynamicQuantizeLinear → DequantizeLinear (a dynamically quantized Conv's input) as one DynamicQuantizeDequantizeLinear:
    // the pair's bits on mixed signs, values of one sign (the range still holds zero), all zeros (scale 1) and NaNs (left out
    // of the range), on every lane path, both sizes around a vector; an infinite value is refused as the pair refuses it;
    // codes something else reads keep the pair.
    [Theory]
    [InlineData("mixed")]
    [InlineData("positive")]
    [InlineData("negative")]
    [InlineData("zeros")]
    [InlineData("nan")]
    [InlineData("infinity")]
    public void ADynamicRoundTripIsOnePassWithThePairsBits(string values)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 37]));
        graph.Nodes.Add(new Node("dql", OpTypes.DynamicQuantizeLinear, ["x"], ["codes", "scale", "zero"]));
        graph.Nodes.Add(new Node("dq", OpTypes.DequantizeLinear, ["codes", "scale", "zero"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 37]));
        var fused = QuantizeDequantizeFusion.Fuse(graph)!;
        Assert.Equal([OpTypes.DynamicQuantizeDequantizeLinear], fused.Nodes.Select(n => n.OpType));
        var x = Tensor.Uniform(new Rng(3), -3f, 5f, 5, 37);
        for (int i = 0; i < x.Size; i++)
            x.Data[i] = values switch
            {
                "positive" => Math.Abs(x.Data[i]), "negative" => -Math.Abs(x.Data[i]), "zeros" => 0f,
                "nan" => i % 7 == 3 ? float.NaN : x.Data[i], "infinity" => i == 11 ? float.PositiveInfinity : x.Data[i], _ => x.Data[i],
            };
        foreach (int rows in new[] { 1, 5 })
        {
            var feed = new Dictionary<string, Tensor> { ["x"] = new Tensor(x.Data[..(rows * 37)], [rows, 37]) };
            if (values == "infinity")
            {
                Assert.Contains("scale must be positive and finite", Assert.Throws<CondenseException>(() => new GraphModule(graph).Run(feed)).Message);
                Assert.Contains("scale must be positive and finite", Assert.Throws<CondenseException>(() => new GraphModule(fused).Run(feed)).Message);
                continue;
            }
            var expected = new GraphModule(graph).Run(feed)["y"].Data.Select(BitConverter.SingleToInt32Bits);
            foreach (var path in Cpu.SupportedPaths)
                using (Cpu.Force(path))
                    Assert.Equal(expected, new GraphModule(fused).Run(feed)["y"].Data.Select(BitConverter.SingleToInt32Bits));
        }
        graph.Nodes.Add(new Node("cast", OpTypes.Cast, ["codes"], ["c"], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("c", [-1, 37]));
        Assert.Null(QuantizeDequantizeFusion.Fuse(graph));
    }
}
