// The per-layer diagnosis against a hand computation on a two-layer model (SQNR, cosine, max error, range, the jump
// from exact inputs, batches streamed like one), a quantizer's range and clipping by hand, and the bar of issue 18: a
// deliberately bad per-tensor quantization of a model with one outlier channel is diagnosed at the outlier layer with
// the fix the hint names — SmoothQuant for a Gemm, equalization for a conv chain — and applying it raises the worst SQNR.
using Condense.Data;
using Condense.Graph;
using Condense.Quantization;
using Condense.Reports.Diagnosis;
using Condense.Tensors;
using Condense.Tests.Quantization;

namespace Condense.Tests.Reports;

public sealed class LayerDiagnosisTests
{
    // x [N, 2] → Gemm g1 (W1, no bias) → Relu r → Gemm g2 (W2 = [1 1]) → y.
    private static ModelGraph TwoLayers(float[] w1)
    {
        var g = new ModelGraph();
        g.Inputs.Add(new ValueInfo("x", [-1, 2]));
        g.Initializers["w1"] = new Tensor(w1, 2, 2);
        g.Initializers["w2"] = new Tensor([1f, 1f], 1, 2);
        var transB = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        g.Nodes.Add(new Node("g1", OpTypes.Gemm, ["x", "w1"], ["h"], transB));
        g.Nodes.Add(new Node("r", OpTypes.Relu, ["h"], ["a"]));
        g.Nodes.Add(new Node("g2", OpTypes.Gemm, ["a", "w2"], ["y"], new Dictionary<string, AttributeValue>(transB)));
        g.Outputs.Add(new ValueInfo("y", [-1, 1]));
        return g;
    }

    // The two samples [1, 2] and [3, −4], one batch each.
    private static Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> TwoSamples() => () =>
        [new Dictionary<string, Tensor> { ["x"] = new Tensor([1f, 2f], 1, 2) }, new Dictionary<string, Tensor> { ["x"] = new Tensor([3f, -4f], 1, 2) }];

    [Fact]
    public void MetricsMatchAHandComputationOnTwoLayers()
    {
        // Reference W1 = I; compressed W1 = diag(1, 0.5).
        //   h: ref [1, 2, 3, −4], x [1, 1, 3, −2]: Σref² 30, Σerr² 5 → 10·log10(6); cosine 20 / √(30·15); max error 2
        //   a: ref [1, 2, 3, 0],  x [1, 1, 3, 0]:  Σref² 14, Σerr² 1 → 10·log10(14); cosine 12 / √(14·11)
        //   y: ref [3, 3],        x [2, 3]:        Σref² 18, Σerr² 1 → 10·log10(18); cosine 15 / √(18·13)
        var report = LayerDiagnosis.Diagnose(new GraphModule(TwoLayers([1, 0, 0, 1])), new GraphModule(TwoLayers([1, 0, 0, 0.5f])), TwoSamples());

        Assert.Equal(2, report.Samples);
        Assert.False(report.Quantized);
        // The layers (a weight, or the model's output) worst first; the Relu's output among the other values.
        Assert.Equal(["h", "y"], report.Layers.Select(l => l.Value));
        var (h, y) = (report.Layers[0], report.Layers[1]);
        var a = Assert.Single(report.Values);
        Assert.Equal(10 * Math.Log10(6), h.SqnrDb, 9);
        Assert.Equal(20 / Math.Sqrt(30 * 15), h.Cosine, 9);
        Assert.Equal(2, h.MaxAbsError, 9);
        Assert.Equal((-4f, 3f), (h.Min, h.Max));
        Assert.Equal(("g1", OpTypes.Gemm, "w1"), (h.Node, h.OpType, h.Weight));
        Assert.Equal(10 * Math.Log10(14), a.SqnrDb, 9);
        Assert.Equal(12 / Math.Sqrt(14 * 11), a.Cosine, 9);
        Assert.Equal((1, 0f, 3f), (a.MaxAbsError, a.Min, a.Max));
        Assert.Null(a.Weight);
        Assert.Equal(10 * Math.Log10(18), y.SqnrDb, 9);
        Assert.Equal(15 / Math.Sqrt(18 * 13), y.Cosine, 9);
        // The drop is measured from the worst compared value a layer reads: h from the exact input, a from h, y from a.
        Assert.True(double.IsPositiveInfinity(h.SqnrDropDb));
        Assert.Equal(10 * Math.Log10(6) - 10 * Math.Log10(14), a.SqnrDropDb, 9);
        Assert.Equal(10 * Math.Log10(14) - 10 * Math.Log10(18), y.SqnrDropDb, 9);
        // g1 loses 7.8 dB on exact inputs: the exclusion hint, naming its weight; the others lose nothing more.
        Assert.Equal(DiagnosisFix.Exclude, Assert.Single(h.Hints).Fix);
        Assert.Empty(a.Hints);
        Assert.Empty(y.Hints);
        Assert.Null(h.Input);

        // One batch of both samples gives the same numbers.
        var together = LayerDiagnosis.Diagnose(new GraphModule(TwoLayers([1, 0, 0, 1])), new GraphModule(TwoLayers([1, 0, 0, 0.5f])),
            () => [new Dictionary<string, Tensor> { ["x"] = new Tensor([1f, 2f, 3f, -4f], 2, 2) }]);
        Assert.Equal(report.Layers.Concat(report.Values).Select(l => l.SqnrDb), together.Layers.Concat(together.Values).Select(l => l.SqnrDb));
    }

    [Fact]
    public void AQuantizedInputReportsItsRangeAndTheShareItClips()
    {
        // The compressed model quantizes g2's input with scale 0.01, zero point 0 (uint8): range 0 … 2.55, so a = 3 saturates.
        var compressed = TwoLayers([1, 0, 0, 1]);
        compressed.Initializers["s"] = Tensor.Scalar(0.01f);
        compressed.Initializers["z"] = Tensor.Scalar(0f);
        compressed.ElementTypes["z"] = ElementType.UInt8;
        compressed.Nodes.Insert(2, new Node("g2/input/QuantizeLinear", OpTypes.QuantizeLinear, ["a", "s", "z"], ["aq"]));
        compressed.Nodes.Insert(3, new Node("g2/input/DequantizeLinear", OpTypes.DequantizeLinear, ["aq", "s", "z"], ["adq"]));
        compressed.Nodes[4].Inputs[0] = "adq";

        var report = LayerDiagnosis.Diagnose(new GraphModule(TwoLayers([1, 0, 0, 1])), new GraphModule(compressed), TwoSamples());

        Assert.True(report.Quantized);
        var y = report.Layers[0];
        Assert.Equal("y", y.Value);
        // y: ref [3, 3], x [3, 2.55]: Σerr² 0.45².
        Assert.Equal(10 * Math.Log10(18 / (0.45 * 0.45)), y.SqnrDb, 4);
        var input = y.Input!;
        Assert.Equal(("a", false), (input.Value, input.Dynamic));
        Assert.Equal(0f, input.Low);
        Assert.Equal(2.55f, input.High!.Value, 5);
        Assert.Equal(0.25, input.Clipped);          // 3 of [1, 2, 3, 0]
        Assert.Equal(2, input.Channels);
        Assert.Equal(DiagnosisFix.Calibration, y.Hints[0].Fix);
        Assert.True(double.IsPositiveInfinity(report.Layers[1].SqnrDb) && double.IsPositiveInfinity(report.Values[0].SqnrDb),
            "h and a are exact in the compressed model");
    }

    [Fact]
    public void AQOperatorStyleNameIsMatchedThroughItsQuantizer()
    {
        // As ONNX Runtime's QOperator files read back: g1 writes a fresh float value, whose codes carry h's name plus "_quantized".
        var compressed = TwoLayers([1, 0, 0, 1]);
        compressed.Initializers["s"] = Tensor.Scalar(0.5f);
        compressed.Initializers["z"] = Tensor.Scalar(128f);
        compressed.ElementTypes["z"] = ElementType.UInt8;
        compressed.Nodes[0].Outputs[0] = "g1_output_0";
        compressed.Nodes.Insert(1, new Node("q", OpTypes.QuantizeLinear, ["g1_output_0", "s", "z"], ["h_quantized"]));
        compressed.Nodes.Insert(2, new Node("dq", OpTypes.DequantizeLinear, ["h_quantized", "s", "z"], ["h_dequantized"]));
        compressed.Nodes[3].Inputs[0] = "h_dequantized";

        var report = LayerDiagnosis.Diagnose(new GraphModule(TwoLayers([1, 0, 0, 1])), new GraphModule(compressed), TwoSamples());

        var h = report.Layers.Single(l => l.Value == "h");
        Assert.Equal("g1_output_0", h.CompressedValue);
        Assert.True(double.IsPositiveInfinity(h.SqnrDb));
        // The Relu reads h through the quantizer: −64 … 63.5 in steps of 0.5 holds [1, 2, 3, −4] exactly.
        var a = Assert.Single(report.Values);
        Assert.True(double.IsPositiveInfinity(a.SqnrDb));
        Assert.Equal(("g1_output_0", -64f, 63.5f, 0.0, 0), (a.Input!.Value, a.Input.Low!.Value, a.Input.High!.Value, a.Input.Clipped, a.Input.Channels));
        Assert.Equal(0, report.NotFound);
    }

    [Fact]
    public void ModelsWithDifferentInputsAreRefusedInOneLine()
    {
        var other = TwoLayers([1, 0, 0, 1]);
        other.Inputs[0] = new ValueInfo("pixels", [-1, 2]);
        other.Nodes[0].Inputs[0] = "pixels";
        var e = Assert.Throws<CondenseException>(() => LayerDiagnosis.Diagnose(new GraphModule(TwoLayers([1, 0, 0, 1])), new GraphModule(other), TwoSamples()));
        Assert.Equal("the models take different inputs: the reference 'x' [?, 2], the compressed model 'pixels' [?, 2]", e.Message);
    }

    // g1 (16 → 32) → Relu → g2 (32 → 8): g1's channel 5 carries a bias of 300 and g2 reads it through a weight column 300×
    // smaller, so the float model uses it normally while one per-tensor activation scale must span 0 … 300.
    private static ModelGraph OutlierMlp()
    {
        var graph = new LayerGraphs([16], 7).Gemm("g1", 16, 32, spread: 0).Op("r1", OpTypes.Relu).Gemm("g2", 32, 8, spread: 0).Build();
        graph.Initializers["g1.bias"].Data[5] = 300;
        for (int o = 0; o < 8; o++) graph.Initializers["g2.weight"].Data[o * 32 + 5] /= 300;
        return graph;
    }

    private static Dataset Samples(int[] shape, ulong seed) =>
        new(Tensor.Uniform(new Rng(seed), -1, 1, [256, .. shape]).Data, null, shape);

    private static DiagnosisReport Diagnose(ModelGraph graph, Dataset data, QuantizeOptions options)
    {
        var (quantized, _) = Quantizer.Quantize(new GraphModule(graph.Clone()), data, options);
        return LayerDiagnosis.Diagnose(new GraphModule(graph.Clone()), quantized, () => data.Feeds("input", 64));
    }

    [Fact]
    public void AnOutlierChannelIsDiagnosedAtItsLayerAndSmoothQuantFixesIt()
    {
        var graph = OutlierMlp();
        var data = Samples([16], 8);
        var perTensor = new QuantizeOptions { PerChannel = false };

        var bad = Diagnose(graph, data, perTensor);

        var worst = bad.Layers[0];
        Assert.Equal(("g2", "g2_out"), (worst.Node, worst.Value));
        Assert.Equal(DiagnosisFix.SmoothQuant, worst.Hints[0].Fix);
        Assert.Equal((32, 1), (worst.Input!.Channels, worst.Input.OutlierChannels));
        Assert.True(worst.Input.OutlierRatio > 20, $"outlier ratio {worst.Input.OutlierRatio}");
        Assert.Contains(worst.Hints, h => h.Fix == DiagnosisFix.Exclude);   // g2 falls far below g1
        Assert.True(bad.Layers.Single(l => l.Node == "g1").SqnrDb > worst.SqnrDb + 20);

        var fixedReport = Diagnose(graph, data, perTensor with { SmoothQuantAlpha = 0.5 });

        Assert.True(fixedReport.WorstSqnrDb > bad.WorstSqnrDb + 10, $"worst SQNR {bad.WorstSqnrDb:F1} → {fixedReport.WorstSqnrDb:F1} dB");
        Assert.DoesNotContain(fixedReport.Layers, l => l.Hints.Any(h => h.Fix == DiagnosisFix.SmoothQuant));
    }

    [Fact]
    public void AnOutlierFilterInAConvChainIsDiagnosedAndEqualizationFixesIt()
    {
        // c1's filter 2 is 100× the others: c2's input has one outlier channel, and per-tensor weights of c1 round the rest coarsely.
        var graph = new LayerGraphs([3, 8, 8], 11).Conv("c1", 3, 8, 3, spread: 0).Op("r1", OpTypes.Relu).Conv("c2", 8, 4, 3, spread: 0).Build();
        var w1 = graph.Initializers["c1.weight"];
        for (int i = 0; i < 27; i++) w1.Data[2 * 27 + i] *= 100;
        graph.Initializers["c1.bias"].Data[2] *= 100;
        for (int o = 0; o < 4; o++) for (int i = 0; i < 9; i++) graph.Initializers["c2.weight"].Data[o * 72 + 2 * 9 + i] /= 100;
        var data = Samples([3, 8, 8], 12);
        var perTensor = new QuantizeOptions { PerChannel = false };

        var bad = Diagnose(graph, data, perTensor);

        var worst = bad.Layers[0];
        Assert.Equal("c2", worst.Node);
        Assert.Equal(DiagnosisFix.Equalize, worst.Hints[0].Fix);

        var fixedReport = Diagnose(graph, data, perTensor with { Equalize = true });

        Assert.True(fixedReport.WorstSqnrDb > bad.WorstSqnrDb + 10, $"worst SQNR {bad.WorstSqnrDb:F1} → {fixedReport.WorstSqnrDb:F1} dB");
        // Equalization divides c1's output channels by their scales: those values are compared after each channel's gain.
        Assert.True(fixedReport.Layers.Single(l => l.Node == "c1").Rescaled);
        Assert.True(fixedReport.Values.Single(l => l.Node == "r1").Rescaled);
        Assert.False(fixedReport.Layers.Single(l => l.Node == "c2").Rescaled);
        Assert.All(fixedReport.Layers.Concat(fixedReport.Values), l => Assert.True(l.SqnrDb > 20, $"{l.Node}: {l.SqnrDb:F1} dB"));
    }
}
