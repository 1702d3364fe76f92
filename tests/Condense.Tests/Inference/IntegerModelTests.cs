// The integer engine against its oracle, the float simulation of the same QDQ graph (GraphModule): the quantized
// input exactly, every hidden uint8 activation within one step, the logits within the error those steps and the
// bias rounding can cause, argmax and accuracy on the embedded MNIST test set; fused ReLU, ragged layer sizes,
// identical integers on every kernel path, and one-line refusals of graphs the engine does not run.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Quantization;
using Condense.Training;

namespace Condense.Tests.Inference;

public class IntegerModelTests
{
    private static Tensor Images(Dataset data, int start, int count) => data.Batch(Enumerable.Range(start, count).ToArray());

    private static ModelGraph RandomGraph(string spec, ulong seed) =>
        GraphTracer.Trace(ModelSpec.Parse(spec).Build(seed), [784]);

    private static ModelGraph TrainedGraph(string spec, ulong seed)
    {
        var model = ModelSpec.Parse(spec).Build(seed);
        Trainer.Fit(model, Mnist.LoadEmbedded().Train.Take(2000), null,
            new TrainOptions { Epochs = 2, AugmentShift = 0, Seed = seed });
        return GraphTracer.Trace(model, [784]);
    }

    private static ModelGraph Static(ModelGraph floatGraph, QuantRange weights, Func<int, QuantParams, QuantParams>? activation = null) =>
        QdqGraphs.Quantize(floatGraph, Images(Mnist.LoadEmbedded().Train, 1000, 256), weights, activation: activation);

    private static Dictionary<string, Tensor> Simulate(ModelGraph qdq, Tensor x)
    {
        var sim = new GraphModule(qdq.Clone());
        sim.Eval();
        using (GradMode.NoGrad()) return sim.Run(x);
    }

    // The Gemm nodes of the chain and the value each layer's input quantization produces in the simulation.
    private static List<Node> Gemms(ModelGraph qdq) => qdq.Nodes.Where(n => n.OpType == "Gemm").ToList();

    private static string QuantizedInput(Node gemm) => gemm.Name + "/input/QuantizeLinear_output_0";

    // Checks one model against the simulation on x: activations within one step (the input exactly), logits
    // within s_x·Σ_k |Δa_k|·|w[o,k]| (the propagated steps) + s_x·s_w[o] (bias rounding) + float slack.
    private static (Tensor Logits, Tensor Simulated) CheckAgainstSimulation(ModelGraph qdq, Tensor x)
    {
        var model = IntegerModel.Compile(qdq);
        var (logits, activations) = model.ForwardWithActivations(x);
        var sim = Simulate(qdq, x);
        var gemms = Gemms(qdq);
        Assert.Equal(gemms.Count, activations.Count);
        long exact = 0, total = 0;
        for (int l = 0; l < gemms.Count; l++)
        {
            var expected = sim[QuantizedInput(gemms[l])].Data;
            Assert.Equal(expected.Length, activations[l].Length);
            for (int i = 0; i < expected.Length; i++)
            {
                int diff = Math.Abs(activations[l][i] - (int)expected[i]);
                Assert.True(diff <= (l == 0 ? 0 : 1), $"layer {l} activation {i}: integer {activations[l][i]}, simulation {expected[i]}");
                if (l > 0) { total++; if (diff == 0) exact++; }
            }
        }
        if (total > 0) Assert.True(exact >= 0.98 * total, $"only {exact} of {total} hidden activations match exactly");

        var last = gemms[^1];
        float sx = qdq.Initializers[last.Name + ".input_scale"].Data[0];
        var wdq = qdq.Producer(last.Inputs[1])!;
        var wq = qdq.Initializers[wdq.Inputs[0]]; var sw = qdq.Initializers[wdq.Inputs[1]].Data;
        int n = wq.Shape[0], k = wq.Shape[1], m = logits.Shape[0];
        var simulated = sim[qdq.Outputs[0].Name];
        var a = activations[^1]; var aSim = sim[QuantizedInput(last)].Data;
        for (int i = 0; i < m; i++)
            for (int o = 0; o < n; o++)
            {
                double propagated = 0;
                for (int j = 0; j < k; j++) propagated += Math.Abs(a[i * k + j] - aSim[i * k + j]) * Math.Abs(wq.Data[o * k + j] * sw[o]);
                double y = logits.Data[i * n + o], ySim = simulated.Data[i * n + o];
                double bound = sx * propagated + sx * sw[o] + 1e-4 * (1 + Math.Abs(ySim));
                Assert.True(Math.Abs(y - ySim) <= bound, $"logit [{i}, {o}]: integer {y}, simulation {ySim}, bound {bound}");
            }
        return (logits, simulated);
    }

    [Fact]
    public void RandomWeightsMatchTheFloatSimulation()
    {
        var qdq = Static(RandomGraph("mlp:784-64-32-10", seed: 5), QuantRange.Restricted(8));
        CheckAgainstSimulation(qdq, Images(Mnist.LoadEmbedded().Test, 0, 300));
    }

    [Fact]
    public void TrainedModelMatchesTheSimulationOnTheTestSet()
    {
        var test = Mnist.LoadEmbedded().Test;
        var qdq = Static(TrainedGraph("mlp:784-64-32-10", seed: 11), QuantRange.Signed(8));
        var x = Images(test, 0, 2000);
        var (logits, simulated) = CheckAgainstSimulation(qdq, x);
        var labels = test.BatchLabels(Enumerable.Range(0, 2000).ToArray());
        int agree = 0;
        for (int i = 0; i < 2000; i++)
            if (ArgMax(logits.Data.AsSpan(i * 10, 10)) == ArgMax(simulated.Data.AsSpan(i * 10, 10))) agree++;
        Assert.True(agree >= 0.995 * 2000, $"argmax agrees on {agree} of 2000 images");
        double accInt = Metrics.CountCorrect(logits, labels) / 2000.0, accSim = Metrics.CountCorrect(simulated, labels) / 2000.0;
        Assert.True(accSim > 0.8, $"the briefly trained model reaches only {accSim:P1}");
        Assert.True(Math.Abs(accInt - accSim) <= 0.003, $"integer accuracy {accInt:P2}, simulation {accSim:P2}");
    }

    [Fact]
    public void OddLayerSizesGiveIdenticalIntegersOnEveryKernelPath()
    {
        var qdq = Static(RandomGraph("mlp:784-33-17-10", seed: 9), QuantRange.Restricted(8));
        var x = Images(Mnist.LoadEmbedded().Test, 100, 67);
        CheckAgainstSimulation(qdq, x);
        var model = IntegerModel.Compile(qdq);
        (Tensor Logits, List<byte[]> Activations)? first = null;
        foreach (var path in Cpu.SupportedPaths)
        {
            (Tensor, List<byte[]>) result;
            using (Cpu.Force(path)) result = model.ForwardWithActivations(x);
            foreach (int m in new[] { 1, 7 })
                using (Cpu.Force(path))
                    Assert.Equal(result.Item1.Data.AsSpan(0, m * 10).ToArray(), model.Forward(Images(Mnist.LoadEmbedded().Test, 100, m)).Data);
            if (first is not { } f) { first = result; continue; }
            Assert.Equal(f.Logits.Data, result.Item1.Data);
            for (int l = 0; l < f.Activations.Count; l++) Assert.Equal(f.Activations[l], result.Item2[l]);
        }
    }

    // A large batch runs as one share of rows per thread, every layer on each share (IntegerModel.RowParts): the same bits
    // as the whole batch through each layer in turn (ForwardWithActivations never splits), on every kernel path.
    [Theory]
    [InlineData(256)]
    [InlineData(131)]
    public void RowSharesGiveTheBitsOfTheWholeBatch(int batch)
    {
        var model = IntegerModel.Compile(Static(RandomGraph("mlp:784-33-17-10", seed: 13), QuantRange.Restricted(8)));
        var x = Images(Mnist.LoadEmbedded().Test, 0, batch);
        foreach (var path in Cpu.SupportedPaths)
            using (Cpu.Force(path))
                Assert.Equal(model.ForwardWithActivations(x).Logits.Data, model.Forward(x).Data);
    }

    [Fact]
    public void VectorInputQuantizationMatchesTheScalarFormula()
    {
        var x = new float[] { 0f, -0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1e9f, -1e9f, float.NaN, float.PositiveInfinity, float.NegativeInfinity,
            0.0999f, 0.1f, 0.1001f, 3.14159f, 12.75f, 25.5f, 25.4999f, -3f, 7.25f, 100f, 200f, 0.05f, 0.15f };
        foreach (var path in Cpu.SupportedPaths)
            foreach (byte z in new byte[] { 0, 3, 128, 255 })
            {
                var q = new byte[x.Length];
                using (Cpu.Force(path)) QuantizeLinear.QuantizeToByte(x, 0.1f, z, q);
                for (int i = 0; i < x.Length; i++) Assert.Equal(QuantizeLinear.Quantize(x[i], 0.1f, z, 0, 255), q[i]);
            }
    }

    [Fact]
    public void FusedReluClampsNegativePreActivationsToTheZeroPoint()
    {
        // A hidden zero point of 100 (the observer would pick 0 after a ReLU) makes the fused clamp visible:
        // every negative pre-activation must come out as exactly 100, never below.
        const int zy = 100;
        var qdq = Static(RandomGraph("mlp:784-20-10", seed: 4), QuantRange.Restricted(8),
            activation: (l, p) => l == 1 ? new QuantParams(p.Scale * 2, zy, p.Range) : p);
        var x = Images(Mnist.LoadEmbedded().Test, 0, 50);
        var (_, activations) = IntegerModel.Compile(qdq).ForwardWithActivations(x);
        var preActivation = Simulate(qdq, x)[Gemms(qdq)[0].Outputs[0]].Data;
        int negatives = 0;
        for (int i = 0; i < preActivation.Length; i++)
        {
            Assert.True(activations[1][i] >= zy);
            if (preActivation[i] < 0) { negatives++; Assert.Equal(zy, activations[1][i]); }
        }
        Assert.True(negatives > 50, $"only {negatives} negative pre-activations: the test does not exercise the clamp");
        CheckAgainstSimulation(qdq, x);
    }

    [Fact]
    public void RefusesGraphsItCannotRun()
    {
        var floatGraph = RandomGraph("mlp:784-16-12-10", seed: 2);
        var calibration = Images(Mnist.LoadEmbedded().Train, 0, 64);
        ModelGraph WithLayerInFloat(int layer) => QdqGraphs.Quantize(
            floatGraph, calibration, QuantRange.Restricted(8), mode: l => l == layer ? QdqLayerMode.Float : QdqLayerMode.Static);
        var cases = new (ModelGraph Graph, string Expected)[]
        {
            (QdqGraphs.Quantize(floatGraph, calibration, QuantRange.Restricted(8), mode: _ => QdqLayerMode.Dynamic), "dynamic"),
            (WithLayerInFloat(1), "left in float"),
            (WithLayerInFloat(2), "left in float"),
            (floatGraph, "left in float"),
            (QdqGraphs.Quantize(RandomGraph("mlp:784-16-10,act=tanh", seed: 2), calibration, QuantRange.Restricted(8)), "Tanh"),
        };
        foreach (var (graph, expected) in cases)
        {
            Assert.False(IntegerModel.CanCompile(graph, out string reason));
            Assert.Contains(expected, reason, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', reason);
            var e = Assert.Throws<CondenseException>(() => IntegerModel.Compile(graph));
            Assert.Equal(reason, e.Message);
        }
        Assert.True(IntegerModel.CanCompile(QdqGraphs.Quantize(floatGraph, calibration, QuantRange.Restricted(8)), out string none));
        Assert.Equal("", none);
    }

    [Fact]
    public void CompilesTheLibraryQuantizersOutput()
    {
        var train = Mnist.LoadEmbedded().Train;
        var floatModel = new GraphModule(RandomGraph("mlp:784-48-24-10", seed: 6));
        floatModel.Eval();
        var options = new QuantizeOptions { CalibrationSamples = 256 };
        var qdq = Quantizer.Quantize(floatModel, train, options).Model.Graph;
        CheckAgainstSimulation(qdq, Images(Mnist.LoadEmbedded().Test, 0, 200));
        foreach (var mode in new[] { QuantizationMode.Dynamic, QuantizationMode.WeightOnly })
            Assert.False(IntegerModel.CanCompile(Quantizer.Quantize(floatModel, train, options with { Mode = mode }).Model.Graph, out _));
    }

    [Fact]
    public void BiasBeyondInt32IsAClearError()
    {
        var qdq = Static(RandomGraph("mlp:784-16-10", seed: 3), QuantRange.Restricted(8));
        qdq.Initializers["1.bias"].Data[0] = 1e9f;
        Assert.False(IntegerModel.CanCompile(qdq, out string reason));
        Assert.Contains("beyond int32", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void IsInferenceOnly()
    {
        var model = IntegerModel.Compile(Static(RandomGraph("mlp:784-16-10", seed: 3), QuantRange.Restricted(8)));
        Assert.Empty(model.Parameters());
        Assert.Equal(784, model.InFeatures);
        Assert.Equal(10, model.OutFeatures);
        var x = Images(Mnist.LoadEmbedded().Test, 0, 3);
        Assert.Equal([3, 10], model.Forward(x).Shape);
        model.Train();
        Assert.Throws<CondenseException>(() => model.Forward(x));
        model.Eval();
        Assert.Throws<CondenseException>(() => model.Forward(Tensor.Zeros(2, 783)));
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;
        return best;
    }
}
