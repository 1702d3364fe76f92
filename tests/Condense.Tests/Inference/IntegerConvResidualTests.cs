// The integer conv engine on residual networks. resnet-mini (a stem, an identity block whose input is read by its first
// conv and by the Add, two downsampling blocks with 1×1 shortcut convs, global average pooling, Linear), quantized
// static, runs on IntegerConvModel with its residual Adds in integers (QAdd), and matches the float simulation of its
// QDQ graph step by step (each step fed the simulation's codes of its inputs): the quantized input exactly, every other
// output within one step (a fixed-point requantization — of a layer or an Add — and the simulation's float arithmetic can
// round a value lying within ~1e-4 of a rounding boundary to neighbouring codes; 99 % or more are equal); end to end, the
// logits within a few hidden steps and argmax mostly; and ONNX Runtime on the exported file. QAdd itself: every path
// equals its scalar specification, and the result is the exact QDQ add (double arithmetic) except, by one step, within
// its stated bound of a rounding boundary.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Xunit.Abstractions;

namespace Condense.Tests.Inference;

public sealed class IntegerConvResidualTests(ITestOutputHelper output)
{
    private static readonly Lazy<Dataset> Train = new(() => Mnist.LoadEmbedded().Train.Take(512));

    private static readonly Lazy<GraphModule> ResNetMini = new(() =>
    {
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("resnet-mini,width=8").Build(3), [784]));
        return Quantizer.Quantize(model, Train.Value.Take(256), new QuantizeOptions { CalibrationSamples = 256 }).Model;
    });

    private static Tensor Images(int start, int count) => Train.Value.Batch(Enumerable.Range(start, count).ToArray());

    private static int ArgMax(ReadOnlySpan<float> row) => row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row));

    [Fact]
    public void ResNetMiniMatchesTheFloatSimulationWithinOneStep()
    {
        var qdq = ResNetMini.Value;
        var engine = IntegerConvModel.Compile(qdq.Graph);
        Assert.Equal(qdq.Graph.Nodes.Count(n => n.OpType is "Conv" or "Gemm"), engine.LayerCount);
        var adds = engine.Steps.OfType<IntegerConvModel.AddStep>().ToList();
        Assert.Equal(3, adds.Count);
        // The first two blocks' sums are quantized for the next block; the last one's goes on to the average pooling in float.
        Assert.Equal([true, true, false], adds.Select(a => a.Requantized));
        var x = Images(0, 64);
        qdq.Eval();
        Dictionary<string, Tensor> sim;
        using (GradMode.NoGrad()) sim = qdq.Run(x);

        // Step by step (each step fed the simulation's codes): the quantized input exactly, every other output within one step.
        string input = qdq.Graph.Consumers(qdq.Graph.Consumers(qdq.Graph.Inputs[0].Name).Single().Outputs[0]).Single().Outputs[0];
        var stepwise = engine.ForwardStepwise(x, sim);
        Assert.Equal(engine.Steps.Count(s => s is IntegerConvModel.LayerStep { Requantized: true } or IntegerConvModel.AddStep { Requantized: true }
            or IntegerConvModel.QuantizeStep or IntegerConvModel.MaxPoolStep), stepwise.Count);
        long exact = 0, total = 0;
        foreach (var (value, codes) in stepwise)
        {
            var expected = sim[value].Data;
            Assert.Equal(expected.Length, codes.Length);
            int allowed = value == input ? 0 : 1;
            for (int i = 0; i < codes.Length; i++)
            {
                int diff = Math.Abs(codes[i] - (int)expected[i]);
                Assert.True(diff <= allowed, $"{value}[{i}]: engine {codes[i]}, simulation {expected[i]}");
                exact += diff == 0 ? 1 : 0;
            }
            total += codes.Length;
        }
        output.WriteLine($"step by step: {exact} of {total} codes equal the simulation's, the others one step away");
        Assert.True(exact >= 0.99 * total, $"only {exact} of {total} codes equal");

        // End to end the one-step differences travel on: a hidden code can end up a few steps away, the logits stay close.
        var (logits, activations) = engine.ForwardWithActivations(x);
        int worst = activations.Max(p => p.Value.Select((c, i) => Math.Abs(c - (int)sim[p.Key].Data[i])).Max());
        long equal = activations.Sum(p => (long)p.Value.Where((c, i) => c == (int)sim[p.Key].Data[i]).Count());
        output.WriteLine($"end to end: {equal} of {activations.Sum(p => (long)p.Value.Length)} layer-input codes equal, at most {worst} steps apart");
        AssertCloseLogits(sim[qdq.Graph.Outputs[0].Name], logits, "simulation");
    }

    // A batch runs as one share of images per thread, each through the whole network (IntegerConvModel.Shares.cs): the
    // bits of the layers split between the threads, on every kernel path, with uneven shares.
    [Fact]
    public void ImageSharesGiveTheBitsOfLayersSplitBetweenThreads()
    {
        var engine = IntegerConvModel.Compile(ResNetMini.Value.Graph);
        var x = Images(0, 9);
        foreach (var path in Cpu.SupportedPaths)
            using (Cpu.Force(path))
            {
                engine.ImageSharesEnabled = false;
                var layers = engine.Forward(x);
                Assert.Equal(1, engine.LastPassShares);
                engine.ImageSharesEnabled = true;
                Assert.Equal(layers.Data, engine.Forward(x).Data);
                Assert.Equal(Math.Min(Cpu.Threads, 4), engine.LastPassShares);
            }
    }

    [Fact]
    public void ResNetMiniMatchesOnnxRuntimeOnTheExportedFile()
    {
        var qdq = BatchDimension.MakeDynamic(ResNetMini.Value);
        var x = Images(64, 64);
        var ort = TypedParity.RunOnnxRuntime(OnnxExporter.ToModel(qdq.Graph), [(qdq.Graph.Inputs[0].Name, x)])[qdq.Graph.Outputs[0].Name];
        AssertCloseLogits(ort, IntegerConvModel.Compile(qdq.Graph).Forward(x), "ONNX Runtime");
    }

    // A one-step flip in a hidden code moves the logits by about s_x·Σ|w| of the layers after it: a few percent of their range.
    private void AssertCloseLogits(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        int n = expected.Shape[0], classes = expected.Shape[1];
        float range = expected.Data.Max(MathF.Abs);
        float worst = expected.Data.Zip(actual.Data, (a, b) => MathF.Abs(a - b)).Max() / range;
        int agree = Enumerable.Range(0, n).Count(i =>
            ArgMax(expected.Data.AsSpan(i * classes, classes)) == ArgMax(actual.Data.AsSpan(i * classes, classes)));
        output.WriteLine($"engine vs {what}: logits max relative difference {worst:G3}, argmax {agree} of {n}");
        Assert.True(worst <= 0.05f, $"logits differ by {worst:G3} of their range");
        Assert.True(agree >= n - 2, $"argmax agrees on {agree} of {n}");
    }

    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void QAddEqualsItsSpecificationOnEveryPath(KernelPath path)
    {
        var rng = new Rng(5);
        foreach (int count in new[] { 1003, (1 << 16) + 1003 })   // vector steps and a scalar tail; large enough to split over threads
            QAddOnPath(path, rng, count);
    }

    private static void QAddOnPath(KernelPath path, Rng rng, int count)
    {
        var a = new byte[count]; var b = new byte[count];
        for (int i = 0; i < count; i++) (a[i], b[i]) = ((byte)rng.NextInt(256), (byte)rng.NextInt(256));
        foreach (var (ratioA, ratioB, zy, relu) in new[] { (0.7, 1.3, (byte)17, true), (0.5, 0.5, (byte)128, false), (3.1, 0.02, (byte)0, false) })
        {
            var (ma, mb, shift) = QAdd.Multipliers(ratioA, ratioB);
            byte qmin = relu ? zy : (byte)0;
            var y = new byte[count];
            using (Cpu.Force(path)) QAdd.Forward(a, 9, ma, b, 201, mb, shift, zy, qmin, y);
            for (int i = 0; i < count; i++) Assert.Equal(QAdd.One(a[i], 9, ma, b[i], 201, mb, shift, zy, qmin), y[i]);
        }
    }

    [Fact]
    public void QAddIsTheExactQdqAddExceptNextToARoundingBoundary()
    {
        var rng = new Rng(6);
        int flips = 0, trials = 0;
        for (int t = 0; t < 200; t++)
        {
            float sa = 0.001f + (float)rng.NextDouble() * 0.1f, sb = 0.001f + (float)rng.NextDouble() * 0.1f, sy = 0.002f + (float)rng.NextDouble() * 0.1f;
            byte za = (byte)rng.NextInt(256), zb = (byte)rng.NextInt(256), zy = (byte)rng.NextInt(256);
            var (ma, mb, shift) = QAdd.Multipliers((double)sa / sy, (double)sb / sy);
            for (int i = 0; i < 256; i++, trials++)
            {
                byte a = (byte)rng.NextInt(256), b = (byte)rng.NextInt(256);
                double exactValue = ((a - za) * (double)sa + (b - zb) * (double)sb) / sy;
                int exact = Math.Clamp(zy + (int)Math.Round(exactValue, MidpointRounding.ToEven), 0, 255);
                int ours = QAdd.One(a, za, ma, b, zb, mb, shift, zy, 0);
                if (ours == exact) continue;
                // Each multiplier is within 1/2 of its real value · 2^k: the fixed-point sum is off by at most this many steps.
                double bound = 0.5 * (Math.Abs(a - za) + Math.Abs(b - zb)) / (1L << shift);
                double toBoundary = Math.Abs(Math.Abs(exactValue - Math.Floor(exactValue)) - 0.5);
                Assert.True(Math.Abs(ours - exact) == 1 && toBoundary <= bound + 1e-12,
                    $"a {a}, b {b}: {ours} vs exact {exact} ({exactValue:R}), {toBoundary:G3} from a boundary, bound {bound:G3}");
                flips++;
            }
        }
        output.WriteLine($"{flips} of {trials} fixed-point adds differ from the exact QDQ add by one step");
        Assert.True(flips <= trials / 1000);
    }
}
