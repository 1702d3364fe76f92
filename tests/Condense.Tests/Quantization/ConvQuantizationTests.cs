// Quantization of convolutional networks: Quantizer puts Conv weights behind per-channel (axis 0) int8
// DequantizeLinear and calibrates every layer input; the integer engine (IntegerConvModel) agrees with the
// float simulation of that QDQ graph (GraphModule) — the quantized input exactly, each hidden uint8
// activation within one step, the logits within a propagated bound and argmax mostly — on LeNet-5 and a
// strided/dilated conv stack; batch norm is folded first; dynamic, weight-only and QAT run on convs;
// resnet-mini (residual Add) quantizes every conv, stays close to float and compiles to the engine
// (Inference/IntegerConvResidualTests.cs checks it against the simulation).
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels;
using Condense.Nn;
using Condense.Optim;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public sealed class ConvQuantizationTests
{
    private static readonly Lazy<Dataset> Train = new(() => Mnist.LoadEmbedded().Train);

    private static Tensor Images(int start, int count) => Train.Value.Batch(Enumerable.Range(start, count).ToArray());

    private static GraphModule Traced(Module module) => new(GraphTracer.Trace(module, [784]));

    private static GraphModule Quantized(GraphModule model, QuantizeOptions? options = null) =>
        Quantizer.Quantize(model, Train.Value.Take(256), options ?? new QuantizeOptions { CalibrationSamples = 256 }).Model;

    private static Dictionary<string, Tensor> Simulate(GraphModule qdq, Tensor x)
    {
        qdq.Eval();
        using (GradMode.NoGrad()) return qdq.Run(x);
    }

    [Fact]
    public void LeNet5ConvWeightsArePerChannelInt8()
    {
        var qdq = Quantized(Traced(ModelSpec.Parse("lenet5").Build(1)));
        var convs = qdq.Graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(2, convs.Count);
        foreach (var conv in convs)
        {
            var dq = qdq.Graph.Producer(conv.Inputs[1])!;
            Assert.Equal("DequantizeLinear", dq.OpType);
            Assert.Equal(0, dq.Int("axis", 1));
            var w = qdq.Graph.Initializers[dq.Inputs[0]];
            Assert.Equal(ElementType.Int8, qdq.Graph.TypeOf(dq.Inputs[0]));
            Assert.Equal([w.Shape[0]], qdq.Graph.Initializers[dq.Inputs[1]].Shape);
            Assert.All(w.Data, v => Assert.True(v == MathF.Round(v) && v >= -127 && v <= 127));
            Assert.Equal("DequantizeLinear", qdq.Graph.Producer(conv.Inputs[0])!.OpType);   // static input Q/DQ
        }
        // ORT's convention: MaxPool and Flatten between DQ and Q with the next layer's (s, z), so they run on uint8.
        foreach (var op in qdq.Graph.Nodes.Where(n => n.OpType is "MaxPool" or "Flatten"))
        {
            var dq = qdq.Graph.Producer(op.Inputs[0])!;
            Assert.Equal("DequantizeLinear", dq.OpType);
            var q = qdq.Graph.Consumers(op.Outputs[0]).Single();
            Assert.Equal("QuantizeLinear", q.OpType);
            Assert.Equal(qdq.Graph.Initializers[q.Inputs[1]].Data, qdq.Graph.Initializers[dq.Inputs[1]].Data);
        }
    }

    public static TheoryData<string> Models() => new() { "lenet5", "stack" };

    [Theory]
    [MemberData(nameof(Models))]
    public void IntegerConvEngineMatchesTheFakeQuantGraphWithinOneStep(string name)
    {
        var module = name == "lenet5" ? ModelSpec.Parse("lenet5").Build(2) : Stack(3);
        var qdq = Quantized(Traced(module));
        var engine = IntegerConvModel.Compile(qdq.Graph);
        var x = Images(500, 64);
        var (logits, activations) = engine.ForwardWithActivations(x);
        var sim = Simulate(qdq, x);
        int layers = qdq.Graph.Nodes.Count(n => n.OpType is "Conv" or "Gemm");
        Assert.Equal(layers, engine.LayerCount);
        Assert.Equal(layers, activations.Count);
        bool first = true;
        long exact = 0, total = 0;
        foreach (var (value, codes) in activations)
        {
            var expected = sim[value].Data;
            Assert.Equal(expected.Length, codes.Length);
            for (int i = 0; i < codes.Length; i++)
            {
                int diff = Math.Abs(codes[i] - (int)expected[i]);
                Assert.True(diff <= (first ? 0 : 1), $"{value}[{i}]: engine {codes[i]}, simulation {expected[i]}");
                if (diff == 0) exact++;
                total++;
            }
            first = false;
        }
        Assert.True(exact >= 0.98 * total, $"only {exact} of {total} codes equal");
        var simLogits = sim[qdq.Graph.Outputs[0].Name];
        Assert.Equal(simLogits.Shape, logits.Shape);
        float range = simLogits.Data.Max(MathF.Abs);
        int agree = 0;
        for (int i = 0; i < x.Shape[0]; i++)
        {
            var a = logits.Data.AsSpan(i * 10, 10); var b = simLogits.Data.AsSpan(i * 10, 10);
            for (int o = 0; o < 10; o++) Assert.True(MathF.Abs(a[o] - b[o]) <= 0.05f * range, $"logit [{i}, {o}]: {a[o]} vs {b[o]}");
            if (a.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(a)) == b.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(b))) agree++;
        }
        Assert.True(agree >= 62, $"argmax agrees on {agree} of 64");
    }

    // Strided, dilated and 1×1 convolutions, max pooling with padding, a conv as the last layer before Flatten.
    private static Sequential Stack(ulong seed)
    {
        var rng = new Rng(seed);
        return new Sequential(new Unflatten(1, 28, 28),
            new Conv2d(1, 8, 3, stride: 2, padding: 1, rng: rng), new ReLU(),
            new Conv2d(8, 12, 3, padding: 2, dilation: 2, rng: rng), new ReLU(), new MaxPool2d(3, 2, 1),
            new Conv2d(12, 10, 1, rng: rng), new Flatten(), new Linear(10 * 7 * 7, 10, rng: rng));
    }

    [Fact]
    public void BatchNormIsFoldedBeforeQuantizing()
    {
        var module = Graph.BatchNormFoldingTests.LeNet5WithBatchNorm(4);
        var model = Traced(module);
        var qdq = Quantized(model);
        Assert.DoesNotContain(qdq.Graph.Nodes, n => n.OpType == "BatchNormalization");
        Assert.True(IntegerConvModel.CanCompile(qdq.Graph, out var reason), reason);
        // The quantized model is close to the float one it came from.
        var x = Images(0, 32);
        model.Eval();
        Tensor expected;
        using (GradMode.NoGrad()) expected = model.Forward(x);
        var actual = IntegerConvModel.Compile(qdq.Graph).Forward(x);
        float range = expected.Data.Max(MathF.Abs);
        for (int i = 0; i < expected.Size; i++) Assert.True(MathF.Abs(expected.Data[i] - actual.Data[i]) <= 0.1f * range);
    }

    [Fact]
    public void ResidualNetworkQuantizesEveryConvAndCompiles()
    {
        var model = Traced(ModelSpec.Parse("resnet-mini,width=4").Build(5));
        var qdq = Quantized(model);
        Assert.Equal(
            model.Graph.Nodes.Count(n => n.OpType == "Conv"),
            qdq.Graph.Nodes.Count(n => n.OpType == "Conv" && qdq.Graph.Producer(n.Inputs[1])?.OpType == "DequantizeLinear"));
        Assert.True(IntegerConvModel.CanCompile(qdq.Graph, out var reason), reason);
        Assert.IsType<IntegerConvModel>(IntegerModel.Runner(qdq));
        var x = Images(0, 8);
        model.Eval(); qdq.Eval();
        using (GradMode.NoGrad())
        {
            var a = model.Forward(x); var b = qdq.Forward(x);
            float range = a.Data.Max(MathF.Abs);
            for (int i = 0; i < a.Size; i++) Assert.True(MathF.Abs(a.Data[i] - b.Data[i]) <= 0.15f * range, $"{a.Data[i]} vs {b.Data[i]}");
        }
    }

    [Theory]
    [InlineData(QuantizationMode.Dynamic)]
    [InlineData(QuantizationMode.WeightOnly)]
    public void DynamicAndWeightOnlyConvGraphsStayCloseToFloat(QuantizationMode mode)
    {
        var model = Traced(ModelSpec.Parse("lenet5").Build(6));
        var qdq = Quantized(model, new QuantizeOptions { Mode = mode });
        Assert.Equal(2, qdq.Graph.Nodes.Count(n => n.OpType == "Conv" && qdq.Graph.Producer(n.Inputs[1])?.OpType == "DequantizeLinear"));
        Assert.Equal(mode == QuantizationMode.Dynamic, qdq.Graph.Nodes.Any(n => n.OpType == "DynamicQuantizeLinear"));
        Assert.False(IntegerConvModel.CanCompile(qdq.Graph, out _));
        var x = Images(100, 16);
        model.Eval(); qdq.Eval();
        using (GradMode.NoGrad())
        {
            var a = model.Forward(x); var b = qdq.Forward(x);
            float range = a.Data.Max(MathF.Abs);
            for (int i = 0; i < a.Size; i++) Assert.True(MathF.Abs(a.Data[i] - b.Data[i]) <= 0.05f * range, $"{a.Data[i]} vs {b.Data[i]}");
        }
    }

    [Fact]
    public void QuantizationAwareTrainingOnConvLayersTrainsAndConverts()
    {
        var model = Traced(ModelSpec.Parse("lenet5").Build(7));
        var qat = Quantizer.Quantize(model, Train.Value.Take(256), new QuantizeOptions { KeepFloatWeights = true, CalibrationSamples = 256 }).Model;
        var convWeight = qat.Graph.Nodes.First(n => n.OpType == "Conv").Inputs[1];
        var floatWeight = qat.Graph.Producer(qat.Graph.Producer(convWeight)!.Inputs[0])!.Inputs[0];
        Assert.Contains(floatWeight, qat.Graph.Trainable);
        var before = qat.Graph.Initializers[floatWeight].Clone();

        qat.Train();
        var optimizer = new Sgd(qat.Parameters(), 0.05f);
        var x = Images(0, 32);
        var labels = Train.Value.BatchLabels(Enumerable.Range(0, 32).ToArray());
        optimizer.ZeroGrad();
        Losses.CrossEntropy(qat.Forward(x), labels).Backward();
        optimizer.Step();
        Assert.NotEqual(before.Data, qat.Graph.Initializers[floatWeight].Data);   // gradients reach conv weights (STE)

        var converted = Quantizer.Convert(qat);
        Assert.DoesNotContain(floatWeight, converted.Graph.Initializers.Keys);
        qat.Eval();
        var x2 = Images(64, 16);
        Tensor expected;
        using (GradMode.NoGrad()) expected = qat.Forward(x2);
        var engine = IntegerConvModel.Compile(converted.Graph);
        var actual = engine.Forward(x2);
        float range = expected.Data.Max(MathF.Abs);
        for (int i = 0; i < expected.Size; i++) Assert.True(MathF.Abs(expected.Data[i] - actual.Data[i]) <= 0.05f * range);
    }
}
