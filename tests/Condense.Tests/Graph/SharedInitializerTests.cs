// Initializers that several layers read, as PyTorch's exporter writes them (it merges equal tensors: an untrained model's
// zero biases and unit batch-norm scales become one tensor). Each pass that rewrites a layer's own tensors must give the
// same result as on the same model written with one tensor per layer (the oracle: the graph built without sharing).
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class SharedInitializerTests
{
    private const int Channels = 8, Size = 6;

    // x [N, 3, 6, 6] → conv1 → BN → Relu → conv2 → BN → Relu → conv3 → Relu → GlobalAveragePool → Flatten → Gemm [N, 4].
    // shared: the convs' biases are one tensor "b", both batch norms read the same four tensors, conv2 and conv3 one weight.
    private static GraphModule Model(bool shared, bool batchNorm = true)
    {
        var rng = new Rng(11);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, Size, Size]));
        Tensor Random(float scale, params int[] shape)
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Size; i++) t.Data[i] = rng.NextNormal() * scale;
            return t;
        }
        var bias = Random(0.2f, Channels);
        var weight = Random(0.3f, Channels, Channels, 3, 3);
        var norms = new[] { Tensor.Zeros(Channels), Random(0.1f, Channels), Random(0.2f, Channels), Tensor.Zeros(Channels) };
        for (int c = 0; c < Channels; c++) { norms[0].Data[c] = 0.5f + c * 0.1f; norms[3].Data[c] = 0.4f + c * 0.05f; }
        string Put(string name, Tensor t, bool trainable = true)
        {
            graph.Initializers[name] = t.Clone();
            if (trainable) graph.Trainable.Add(name);
            return name;
        }
        var conv = new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints(1, 1, 1, 1), ["kernel_shape"] = AttributeValue.Ints(3, 3) };
        string x = "x";
        for (int layer = 1; layer <= 3; layer++)
        {
            string w = layer == 1 ? Put("w1", Random(0.4f, Channels, 3, 3, 3)) : Put(shared ? "w" : $"w{layer}", weight);
            string b = Put(shared ? "b" : $"b{layer}", bias);
            graph.Nodes.Add(new Node($"conv{layer}", OpTypes.Conv, [x, w, b], [$"c{layer}"], conv));
            x = $"c{layer}";
            if (batchNorm && layer < 3)
            {
                string[] p = [.. new[] { "gamma", "beta", "mean", "var" }.Select((n, i) => Put(shared ? n : $"{n}{layer}", norms[i], i < 2))];
                graph.Nodes.Add(new Node($"bn{layer}", OpTypes.BatchNormalization, [x, .. p], [$"n{layer}"]));
                x = $"n{layer}";
            }
            graph.Nodes.Add(new Node($"relu{layer}", OpTypes.Relu, [x], [$"r{layer}"]));
            x = $"r{layer}";
        }
        graph.Nodes.Add(new Node("pool", OpTypes.GlobalAveragePool, [x], ["p"]));
        graph.Nodes.Add(new Node("flatten", OpTypes.Flatten, ["p"], ["f"]));
        graph.Nodes.Add(new Node("fc", OpTypes.Gemm, ["f", Put("fc.w", Random(0.5f, 4, Channels)), Put("fc.b", Random(0.1f, 4))], ["y"],
            new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4]));
        var model = new GraphModule(graph);
        model.Eval();
        return model;
    }

    private static Tensor Input(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = Tensor.Zeros(n, 3, Size, Size);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat() * 2 - 1;
        return x;
    }

    private static Tensor Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    [Fact]
    public void SeparatingGivesEachLayerItsOwnTensorsAndKeepsTheFunction()
    {
        var model = Model(shared: true);
        Assert.Equal(["b", "beta", "gamma", "mean", "var", "w"], SharedInitializers.Find(model.Graph).Order(StringComparer.Ordinal));
        var graph = model.Graph.Clone();
        // b: 3 readers (2 copies), 4 BN tensors: 2 readers each (4 copies), w: 2 readers (1 copy).
        Assert.Equal(7, SharedInitializers.Separate(graph));
        Assert.Empty(SharedInitializers.Find(graph));
        Assert.Contains("b.1", graph.Trainable);
        Assert.DoesNotContain("mean.1", graph.Trainable);
        TensorAsserts.Close(Run(model, Input(2, 1)), Run(new GraphModule(graph), Input(2, 1)), 1e-6f);
        Assert.Equal(6, SharedInitializers.Find(model.Graph).Count);   // the input is not changed
    }

    [Fact]
    public void OnlySelectedReadersGetCopies()
    {
        var graph = Model(shared: true).Graph.Clone();
        // Only the convs: each of the three bias readers and both weight readers is a conv, so the first keeps the original.
        Assert.Equal(3, SharedInitializers.Separate(graph, n => n.OpType == OpTypes.Conv));
        Assert.Equal(["beta", "gamma", "mean", "var"], SharedInitializers.Find(graph).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void BatchNormFoldsIntoLayersThatShareTheirBias()
    {
        var model = Model(shared: true);
        var (folded, report) = BatchNormFolding.Fold(model);
        Assert.Equal(2, report.Folded.Count);
        Assert.Empty(report.Left);
        TensorAsserts.Close(Run(model, Input(3, 2)), Run(folded, Input(3, 2)), 1e-5f);
    }

    [Fact]
    public void FilterPruningOfSharedTensorsEqualsPruningOfOwnTensors()
    {
        var shared = StructuredPruning.Remove(Model(shared: true), 0.5);
        var own = StructuredPruning.Remove(Model(shared: false), 0.5);
        Assert.Equal(own.Changes.Count, shared.Changes.Count);
        Assert.True(shared.Changes.Count >= 2);
        TensorAsserts.Close(Run(own.Model, Input(2, 3)), Run(shared.Model, Input(2, 3)), 1e-6f);
    }

    [Fact]
    public void CrossLayerEqualizationOfSharedTensorsKeepsTheFunction()
    {
        var model = Model(shared: true, batchNorm: false);
        var (equalized, report) = CrossLayerEqualization.Apply(model.Graph);
        Assert.Equal(2, report.Equalized.Count);
        TensorAsserts.Close(Run(model, Input(2, 4)), Run(new GraphModule(equalized), Input(2, 4)), 1e-5f);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void QuantizingSharedTensorsEqualsQuantizingOwnTensors(bool biasCorrection)
    {
        var calibration = new Dataset(Input(16, 5).Data, null, [3, Size, Size]);
        var options = new QuantizeOptions { CalibrationSamples = 16, BiasCorrection = biasCorrection };
        var shared = Quantizer.Quantize(Model(shared: true, batchNorm: false), calibration, options).Model;
        var own = Quantizer.Quantize(Model(shared: false, batchNorm: false), calibration, options).Model;
        Assert.Equal(3, shared.Graph.Nodes.Count(n => n.OpType == OpTypes.Conv && n.Inputs[1].EndsWith("DequantizeLinear_output_0", StringComparison.Ordinal)));
        TensorAsserts.Close(Run(own, Input(2, 6)), Run(shared, Input(2, 6)), 1e-6f);
    }
}
