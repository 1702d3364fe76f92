// The inference front door picks the engine each engine's own compiler would: a static int8 MLP runs on
// IntegerModel, a static int8 conv chain or residual network on IntegerConvModel, and a float model or a graph both
// refuse (a dynamically quantized CNN without Linear layers) runs as a float graph (its weights' dequantization
// folded), with the refusal of the engine that fits the graph as the reason. The runners compute exactly what compiling the engine directly computes.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Quantization;

namespace Condense.Tests.Inference;

public class InferenceEngineTests
{
    private static readonly Lazy<Dataset> Train = new(() => Mnist.LoadEmbedded().Train.Take(256));

    private static GraphModule Traced(string spec, ulong seed) => new(GraphTracer.Trace(ModelSpec.Parse(spec).Build(seed), [784]));

    private static GraphModule Static(GraphModule model) =>
        Quantizer.Quantize(model, Train.Value, new QuantizeOptions { CalibrationSamples = 256 }).Model;

    private static float[] Run(Module m, Tensor x)
    {
        m.Eval();
        using (GradMode.NoGrad()) return m.Forward(x).Data;
    }

    private static Tensor Images() => Train.Value.Batch(Enumerable.Range(0, 16).ToArray());

    [Fact]
    public void StaticMlpRunsOnTheGemmEngine()
    {
        var qdq = Static(Traced("mlp:784-32-10", 1));
        var compiled = InferenceEngine.Compile(qdq);
        Assert.Equal(EngineKind.Integer, compiled.Kind);
        Assert.True(compiled.IsInteger);
        Assert.Null(compiled.FallbackReason);
        Assert.IsType<IntegerModel>(compiled.Runner);
        Assert.Equal(Run(IntegerModel.Compile(qdq.Graph), Images()), Run(compiled.Runner, Images()));
    }

    [Fact]
    public void StaticConvChainRunsOnTheConvEngine()
    {
        var qdq = Static(Traced("lenet5", 2));
        Assert.False(IntegerModel.CanCompile(qdq.Graph, out _));
        var compiled = InferenceEngine.Compile(qdq);
        Assert.Equal(EngineKind.IntegerConv, compiled.Kind);
        Assert.Null(compiled.FallbackReason);
        Assert.Equal(Run(IntegerConvModel.Compile(qdq.Graph), Images()), Run(compiled.Runner, Images()));
    }

    [Fact]
    public void StaticResidualNetworkRunsOnTheConvEngine()
    {
        var qdq = Static(Traced("resnet-mini,width=4", 5));
        var compiled = InferenceEngine.Compile(qdq);
        Assert.Equal(EngineKind.IntegerConv, compiled.Kind);
        Assert.Null(compiled.FallbackReason);
        Assert.Equal(Run(IntegerConvModel.Compile(qdq.Graph), Images()), Run(compiled.Runner, Images()));
    }

    [Fact]
    public void FloatAndDynamicConvModelsRunAsFloatGraphsWithTheEnginesReason()
    {
        var floatModel = Traced("mlp:784-16-10", 3);
        var plain = InferenceEngine.Compile(floatModel);
        Assert.Equal(EngineKind.Float, plain.Kind);
        // The float graph runs as a copy with its first Linear layer and the ReLU after it fused (GemmActivationFusion).
        var runner = Assert.IsType<GraphModule>(plain.Runner);
        Assert.NotSame(floatModel, runner);
        Assert.False(runner.Training);
        Assert.Equal(floatModel.Graph.Nodes.Count - 1, runner.Graph.Nodes.Count);
        Assert.Single(runner.Graph.Nodes, n => n.OpType == OpTypes.FusedGemm);
        Assert.False(IntegerModel.CanCompile(floatModel.Graph, out string gemmReason));
        Assert.Equal(gemmReason, plain.FallbackReason);

        // A dynamically quantized CNN without Linear layers runs as a float graph whose weights' DequantizeLinears are the float
        // initializers they compute (QuantizeDequantizeFusion), with the model's outputs.
        var convOnly = new LayerGraphs([3, 9, 9], 6).Conv("c1", 3, 8, 3).Op("r1", OpTypes.Relu).Conv("c2", 8, 4, 3)
            .Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten).Build();
        var dynamic = Quantizer.Quantize(new GraphModule(convOnly), new QuantizeOptions { Mode = QuantizationMode.Dynamic }, null).Model;
        var compiled = InferenceEngine.Compile(dynamic);
        Assert.Equal(EngineKind.Float, compiled.Kind);
        var copy = Assert.IsType<GraphModule>(compiled.Runner);
        Assert.NotSame(dynamic, copy);
        Assert.Contains(dynamic.Graph.Nodes, n => n.OpType == OpTypes.DequantizeLinear && dynamic.Graph.Initializers.ContainsKey(n.Inputs[0]));
        Assert.DoesNotContain(copy.Graph.Nodes, n => n.OpType == OpTypes.DequantizeLinear && copy.Graph.Initializers.ContainsKey(n.Inputs[0]));
        var images = Tensor.Uniform(new Rng(8), -1f, 1f, 4, 3, 9, 9);
        var (expected, actual) = (Run(dynamic, images), Run(copy, images));
        float largest = expected.Max(MathF.Abs);
        Assert.All(expected.Zip(actual), p => Assert.True(MathF.Abs(p.First - p.Second) <= 1e-6f * largest, $"{p.First} vs {p.Second}"));
        Assert.False(IntegerConvModel.CanCompile(dynamic.Graph, out string convReason));
        Assert.Equal(convReason, compiled.FallbackReason);
        Assert.StartsWith("integer engine:", compiled.FallbackReason);
        Assert.DoesNotContain('\n', compiled.FallbackReason!);

        // With Linear layers (LeNet-5's, exported as Gemm) those run on the integer GEMM (DynamicMatMulFusion).
        var lenet = Quantizer.Quantize(Traced("lenet5", 5), Train.Value, new QuantizeOptions { Mode = QuantizationMode.Dynamic }).Model;
        var withLinears = InferenceEngine.Compile(lenet);
        Assert.Equal(EngineKind.DynamicInteger, withLinears.Kind);
        var fused = Assert.IsType<GraphModule>(withLinears.Runner);
        Assert.Equal(lenet.Graph.Nodes.Count(n => n.OpType == OpTypes.Gemm), fused.Graph.Nodes.Count(n => n.OpType == OpTypes.DynamicQuantizeMatMul));
        Assert.DoesNotContain(fused.Graph.Nodes, n => n.OpType == OpTypes.Gemm);
    }
}
