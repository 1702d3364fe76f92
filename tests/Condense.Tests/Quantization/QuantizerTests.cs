// The post-training quantization pass: the QDQ graph it builds follows docs/quantized-graph.md, runs as
// the float simulation of the quantization, saves with integer weights, and leaves excluded layers float.
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Formats;
using Condense.Training;

namespace Condense.Tests.Quantization;

public sealed class QuantizerTests : IDisposable
{
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly Lazy<(GraphModule Model, Dataset Train, Dataset Test)> Trained = new(() =>
    {
        var (train, test) = Mnist.LoadEmbedded();
        var net = ModelSpec.Parse("mlp:784-48-24-10").Build(5);
        Trainer.Fit(net, train.Take(2000), null, new TrainOptions { Epochs = 3, Seed = 5 });
        return (new GraphModule(GraphTracer.Trace(net, train.SampleShape)), train, test.Take(1000));
    });

    [Fact]
    public void StaticGraphFollowsTheQdqForm()
    {
        var (model, train, _) = Trained.Value;
        var (q, layers) = Quantizer.Quantize(model, train, new QuantizeOptions { CalibrationSamples = 500 });
        var g = q.Graph;
        Assert.Equal(3, layers.Count);
        foreach (var gemm in g.Nodes.Where(n => n.OpType == "Gemm"))
        {
            var weight = g.Producer(gemm.Inputs[1])!;
            Assert.Equal("DequantizeLinear", weight.OpType);
            Assert.Equal(0, weight.Int("axis", 1));
            Assert.Equal(ElementType.Int8, g.TypeOf(weight.Inputs[0]));
            Assert.All(g.Initializers[weight.Inputs[0]].Data, v => Assert.InRange(v, -127f, 127f));
            Assert.All(g.Initializers[weight.Inputs[2]].Data, v => Assert.Equal(0f, v));
            var input = g.Producer(gemm.Inputs[0])!;
            Assert.Equal("DequantizeLinear", input.OpType);
            Assert.Equal("QuantizeLinear", g.Producer(input.Inputs[0])!.OpType);
            Assert.Equal(ElementType.UInt8, g.TypeOf(input.Inputs[2]));
        }
        // The float weights are gone: only integers (and their scales) remain.
        Assert.DoesNotContain("1.weight", g.Initializers.Keys);
        Assert.Equal(model.Graph.Initializers["1.bias"].Data, g.Initializers["1.bias"].Data);
        // The input model is untouched.
        Assert.Contains("1.weight", model.Graph.Initializers.Keys);
    }

    [Fact]
    public void WeightsDequantizeToWithinHalfAStep()
    {
        var (model, train, _) = Trained.Value;
        var (q, _) = Quantizer.Quantize(model, train, new QuantizeOptions { Mode = QuantizationMode.WeightOnly });
        var w = model.Graph.Initializers["3.weight"];
        var wq = q.Graph.Initializers["3.weight.quantized"];
        var scale = q.Graph.Initializers["3.weight.scale"];
        int cols = w.Shape[1];
        for (int i = 0; i < w.Size; i++)
        {
            float s = scale.Data[i / cols];
            Assert.True(MathF.Abs(wq.Data[i] * s - w.Data[i]) <= s / 2 * 1.0001f);
        }
        // Each row's largest |w| maps to ±127 (symmetric, restricted range).
        for (int r = 0; r < w.Shape[0]; r++)
            Assert.Equal(127f, Enumerable.Range(0, cols).Max(c => MathF.Abs(wq.Data[r * cols + c])));
    }

    [Theory]
    [InlineData(QuantizationMode.Static, 8, 0.01)]
    [InlineData(QuantizationMode.Dynamic, 8, 0.01)]
    [InlineData(QuantizationMode.WeightOnly, 4, 0.03)]
    public void AccuracyStaysCloseAndTheFileRoundTrips(QuantizationMode mode, int bits, double maxDrop)
    {
        var (model, train, test) = Trained.Value;
        var (q, _) = Quantizer.Quantize(model, train, new QuantizeOptions { Mode = mode, WeightBits = bits, CalibrationSamples = 500 });
        float before = Evaluator.Evaluate(model, test).Accuracy, after = Evaluator.Evaluate(q, test).Accuracy;
        Assert.True(before - after <= maxDrop, $"{mode} int{bits}: {before:P2} → {after:P2}");

        string path = _dir.File("q.safetensors");
        Checkpoint.Save(q.Graph, path);
        var loaded = Checkpoint.Load(path);
        var x = test.Batch([0, 1, 2, 3]);
        q.Eval(); loaded.Eval();
        Assert.Equal(q.Forward(x).Data, loaded.Forward(x).Data);
        var floatPath = _dir.File("f.safetensors");
        Checkpoint.Save(model.Graph, floatPath);
        Assert.True(new FileInfo(path).Length < 0.3 * new FileInfo(floatPath).Length);
    }

    [Fact]
    public void ExcludedLayersStayFloat()
    {
        var (model, train, _) = Trained.Value;
        var (q, layers) = Quantizer.Quantize(model, train, new QuantizeOptions { Exclude = ["5.*"], CalibrationSamples = 200 });
        Assert.Equal(["1.weight", "3.weight"], layers.Select(l => l.Weight));
        Assert.Contains("5.weight", q.Graph.Initializers.Keys);
        Assert.Equal(ElementType.Float32, q.Graph.TypeOf("5.weight"));
        Assert.Throws<CondenseException>(() => Quantizer.Quantize(model, train, new QuantizeOptions { Exclude = ["*"] }));
    }

    [Fact]
    public void DynamicQuantizeLinearFollowsTheOnnxFormula()
    {
        // x in [−1, 3]: scale = 4/255, zero point = round(1 / scale) = round(63.75) = 64.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("input", [-1, 4]));
        graph.Nodes.Add(new Node("d", "DynamicQuantizeLinear", ["input"], ["logits", "s", "z"]));
        graph.Outputs.Add(new ValueInfo("logits", [-1, 4]));
        var values = new GraphModule(graph).Run(new Tensor([-1f, 0f, 1.5f, 3f], 1, 4));
        Assert.Equal(4f / 255f, values["s"].Item(), 6);
        Assert.Equal(64f, values["z"].Item());
        Assert.Equal([0f, 64f, MathF.Round(1.5f / (4f / 255f)) + 64f, 255f], values["logits"].Data);
    }
}
