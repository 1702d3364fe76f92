// Empirical bias correction against what it promises (Nagel et al. 2019, §4.2): on the calibration data, each corrected layer
// run on the float model's inputs has a mean output error of zero per channel (the quantity it estimates, ε·E[x], removed
// exactly), and the quantized model's own layer outputs — with activation quantization and upstream errors — are closer in
// mean to the float model's than without correction. On a CNN (convs with and without bias, padding, a depthwise layer) and
// on a Linear model (Gemm in both layouts, a MatMul that gets an Add); the public pass and the quantizer's option agree.
using Condense.Autograd;
using Condense.Graph;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public sealed class BiasCorrectionTests
{
    internal static Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> Batches(ulong seed, int batches, int[] sample, float low = 0, float high = 1) =>
        () => Enumerable.Range(0, batches).Select(b =>
            (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor>
                { ["input"] = Tensor.Uniform(new Rng(seed + (ulong)b), low, high, [8, .. sample]) });

    internal static ModelGraph Cnn(ulong seed) => new LayerGraphs([3, 10, 10], seed)
        .Conv("c1", 3, 8, 3).Op("r1", OpTypes.Relu)
        .Conv("c2", 8, 8, 3, group: 8, bias: false).Op("r2", OpTypes.Relu)
        .Conv("c3", 8, 6, 1).Op("r3", OpTypes.Relu)
        .Conv("c4", 6, 4, 3).Build();

    internal static ModelGraph Mlp(ulong seed) => new LayerGraphs([24], seed)
        .Gemm("g1", 24, 32).Op("r1", OpTypes.Relu)
        .Gemm("g2", 32, 16, transB: false, bias: false).Op("r2", OpTypes.Relu)
        .MatMul("m3", 16, 8).Build();

    // Per layer: the mean over samples and positions of (quantized − float) output, per channel; its mean |·| over channels.
    private static Dictionary<string, double> MeanErrors(ModelGraph floatGraph, ModelGraph quantized, Tensor x)
    {
        using var _ = GradMode.NoGrad();
        var a = new GraphModule(floatGraph).Run(x);
        var b = new GraphModule(quantized).Run(x);
        return floatGraph.Nodes.Where(n => n.OpType is OpTypes.Conv or OpTypes.Gemm or OpTypes.MatMul)
            .ToDictionary(n => n.Name, n => ChannelMeans(b[n.Outputs[0]].Sub(a[n.Outputs[0]])).Average(Math.Abs));
    }

    // The mean of each channel (axis 1) over every other axis.
    private static double[] ChannelMeans(Tensor y)
    {
        int channels = y.Shape[1], inner = y.Size / (y.Shape[0] * channels);
        var sums = new double[channels];
        for (int i = 0; i < y.Size; i++) sums[i / inner % channels] += y.Data[i];
        return [.. sums.Select(s => s / (y.Size / channels))];
    }

    // The corrected layer on the float model's inputs: its weight as the quantized graph dequantizes it, its corrected bias.
    private static double OwnQuantityError(ModelGraph floatGraph, ModelGraph quantized, string layer, Tensor x)
    {
        using var _ = GradMode.NoGrad();
        var floats = new GraphModule(floatGraph).Run(x);
        var quantizedValues = new GraphModule(quantized).Run(x);
        Node original = floatGraph.Nodes.Single(n => n.Name == layer), node = quantized.Nodes.Single(n => n.Name == layer);
        var hybrid = floatGraph.Clone();
        var swapped = hybrid.Nodes.Single(n => n.Name == layer);
        hybrid.Initializers[original.Inputs[1]] = quantizedValues[node.Inputs[1]];
        string bias = node.Inputs.Count > 2 ? node.Inputs[2] : quantized.Nodes.Single(n => n.Name == layer + "/bias_correction").Inputs[1];
        hybrid.Initializers[bias] = quantized.Initializers[bias];
        if (swapped.Inputs.Count < 3) swapped.Inputs.Add(bias);
        else swapped.Inputs[2] = bias;
        if (swapped.OpType == OpTypes.MatMul) { swapped.OpType = OpTypes.Gemm; swapped.Inputs[2] = bias; }
        var y = new GraphModule(hybrid).Run(x)[swapped.Outputs[0]];
        var error = ChannelMeans(y.Sub(floats[original.Outputs[0]]));
        return error.Max(Math.Abs) / floats[original.Outputs[0]].Data.Average(v => Math.Abs(v));
    }

    internal static Tensor Calibration(Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> batches)
    {
        var all = batches().Select(f => f["input"]).ToList();
        return new Tensor([.. all.SelectMany(t => t.Data)], [all.Sum(t => t.Shape[0]), .. all[0].Shape[1..]]);
    }

    [Theory]
    [InlineData("cnn", QuantizationMode.Static)]
    [InlineData("cnn", QuantizationMode.WeightOnly)]
    [InlineData("mlp", QuantizationMode.Static)]
    [InlineData("mlp", QuantizationMode.Dynamic)]
    public void CorrectionRemovesTheMeanErrorItEstimatesAndShrinksTheModelsOwn(string model, QuantizationMode mode)
    {
        var graph = model == "cnn" ? Cnn(1) : Mlp(1);
        var batches = model == "cnn" ? Batches(10, 4, [3, 10, 10]) : Batches(10, 4, [24]);
        var options = new QuantizeOptions { Mode = mode, WeightBits = 4 };
        var (plain, _) = Quantizer.Quantize(new GraphModule(graph), options, batches);
        var (corrected, layers) = Quantizer.Quantize(new GraphModule(graph), options with { BiasCorrection = true }, batches);

        Assert.All(layers, l => Assert.True(l.BiasCorrection > 0, $"{l.Node} was not corrected"));
        var x = Calibration(batches);
        foreach (var l in layers)
        {
            double own = OwnQuantityError(graph, corrected.Graph, l.Node, x);
            Assert.True(own < 1e-4, $"{l.Node}: mean error {own:G3} of the mean |y| left on the float inputs");
        }
        var before = MeanErrors(graph, plain.Graph, x);
        var after = MeanErrors(graph, corrected.Graph, x);
        Assert.True(after.Values.Sum() < 0.5 * before.Values.Sum(),
            $"mean errors {string.Join(", ", after.Select(e => $"{e.Key} {e.Value:G3}"))} vs {string.Join(", ", before.Select(e => $"{e.Value:G3}"))}");
        Assert.True(after[layers[0].Node] < before[layers[0].Node]);
    }

    [Fact]
    public void ThePublicPassAgreesWithTheQuantizersOptionAndNamesNewBiasesAfterTheWeight()
    {
        var graph = Cnn(2);
        var batches = Batches(20, 3, [3, 10, 10]);
        var options = new QuantizeOptions { WeightBits = 4 };
        var (plain, _) = Quantizer.Quantize(new GraphModule(graph), options, batches);
        var (viaOption, _) = Quantizer.Quantize(new GraphModule(graph), options with { BiasCorrection = true }, batches);
        var (viaPass, corrected) = BiasCorrection.Apply(new GraphModule(graph), plain, batches());

        Assert.Equal(["c1", "c2", "c3", "c4"], corrected.Select(c => c.Layer));
        Assert.Equal("c2.bias", corrected.Single(c => c.Layer == "c2").Bias);   // c2 had no bias: one named after its weight
        foreach (var c in corrected) Assert.Equal(viaOption.Graph.Initializers[c.Bias].Data, viaPass.Graph.Initializers[c.Bias].Data);
        Assert.DoesNotContain("c2.bias", plain.Graph.Initializers.Keys);   // the input is not changed
    }

    [Fact]
    public void OptionsThatNeedDataOrConflictAreRefusedInOneLine()
    {
        var model = new GraphModule(Mlp(3));
        var dynamic = new QuantizeOptions { Mode = QuantizationMode.Dynamic };
        var noData = Assert.Throws<CondenseException>(() => Quantizer.Quantize(model, dynamic with { BiasCorrection = true }, null));
        Assert.Contains("bias correction needs calibration data", noData.Message);
        var noDataAda = Assert.Throws<CondenseException>(() => Quantizer.Quantize(model, dynamic with { AdaRound = true }, null));
        Assert.Contains("AdaRound needs calibration data", noDataAda.Message);
        Assert.Throws<CondenseException>(() => new QuantizeOptions { BiasCorrection = true, KeepFloatWeights = true }.Validate());
        Assert.Throws<CondenseException>(() => new QuantizeOptions { AdaRound = true, KeepFloatWeights = true }.Validate());
        var both = Assert.Throws<CondenseException>(() => new QuantizeOptions
            { Mode = QuantizationMode.WeightOnly, BlockSize = 32, Rounding = WeightRounding.Gptq, AdaRound = true }.Validate());
        Assert.Contains("AdaRound and gptq", both.Message);
        Assert.Throws<CondenseException>(() => new QuantizeOptions { Mode = QuantizationMode.WeightOnly, BlockSize = 32, AdaRound = true }.Validate());
        Assert.Throws<CondenseException>(() => new QuantizeOptions
            { Mode = QuantizationMode.WeightOnly, BlockSize = 32, Rounding = WeightRounding.Awq, BiasCorrection = true }.Validate());
    }
}
