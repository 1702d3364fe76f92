// Cross-layer equalization against its two promises: the equalized graph computes the same outputs (within 1e-5 of the
// largest output), and each equalized pair's ranges match channel by channel — W1's output channel i and W2's input
// channel i both √(r1_i·r2_i) (Nagel et al. 2019, §4.1). Through Relu, LeakyRelu, a scalar PRelu, a depthwise Conv (whose
// input channel is its output channel, so a chain through it needs several sweeps), grouped Conv and Gemm in both layouts;
// Clip, fan-out and a per-channel PRelu are skipped with their reason.
using Condense.Autograd;
using Condense.Graph;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public sealed class CrossLayerEqualizationTests
{
    internal static void AssertSameOutputs(ModelGraph expected, ModelGraph actual, Tensor x, double tolerance = 1e-5)
    {
        using var _ = GradMode.NoGrad();
        string output = expected.Outputs[0].Name;
        var a = new GraphModule(expected).Run(x)[output].Data;
        var b = new GraphModule(actual).Run(x)[output].Data;
        double largest = a.Max(v => Math.Abs(v)), worst = a.Zip(b, (u, v) => Math.Abs(u - v)).Max();
        Assert.True(worst <= tolerance * largest, $"outputs differ by {worst:G3} (largest |y| {largest:G3})");
    }

    // The largest relative difference between W1's output-channel range and W2's input-channel range over every equalized pair.
    private static double RangeMismatch(ModelGraph g, EqualizationReport report) => report.Equalized.Max(pair =>
    {
        Node first = g.Nodes.First(n => n.Name == pair.First), second = g.Nodes.First(n => n.Name == pair.Second);
        var r1 = CrossLayerEqualization.OutputRanges(first, g.Initializers[first.Inputs[1]]);
        var r2 = CrossLayerEqualization.InputRanges(second, g.Initializers[second.Inputs[1]]);
        return r1.Zip(r2, (a, b) => Math.Abs(a - b) / b).Max();
    });

    private static Tensor Input(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1, 1, shape);

    [Fact]
    public void ASmallCnnKeepsItsOutputsAndItsPairsGetEqualRanges()
    {
        var graph = new LayerGraphs([3, 9, 9], 1)
            .Conv("c1", 3, 8, 3).Op("r1", OpTypes.Relu)
            .Conv("c2", 8, 12, 3, bias: false).Op("l2", OpTypes.LeakyRelu, alpha: 0.1f)
            .Conv("c3", 12, 6, 1, group: 2).Op("p3", OpTypes.PRelu, Tensor.Scalar(0.25f))
            .Conv("c4", 6, 4, 3).Op("f", OpTypes.Flatten)
            .Gemm("g1", 4 * 81, 16, transB: false).Op("r5", OpTypes.Relu)
            .Gemm("g2", 16, 5).Build();
        var (equalized, report) = CrossLayerEqualization.Apply(graph);

        Assert.Equal([("c1", "c2", "Relu"), ("c2", "c3", "LeakyRelu"), ("c3", "c4", "PRelu"), ("g1", "g2", "Relu")],
            report.Equalized.Select(p => (p.First, p.Second, p.Activation)));
        Assert.Equal([8, 12, 6, 16], report.Equalized.Select(p => p.Channels));
        Assert.Contains(report.Skipped, s => s.Layer == "c4" && s.Reason.Contains("Flatten"));
        Assert.Contains(report.Skipped, s => s.Layer == "g2" && s.Reason.Contains("graph output"));
        Assert.True(report.Sweeps > 1, "a chain of three layers needs more than one sweep");
        AssertSameOutputs(graph, equalized, Input(2, 4, 3, 9, 9));
        Assert.True(RangeMismatch(equalized, report) < 1e-3, $"ranges differ by {RangeMismatch(equalized, report):P3}");
        Assert.True(RangeMismatch(graph, report) > 0.5, "the test graph's ranges should start far apart");
        Assert.False(equalized.Initializers["c2.weight"].Data.SequenceEqual(graph.Initializers["c2.weight"].Data));
    }

    [Fact]
    public void ADepthwiseChainConvergesOverSweepsAndScalesBothWays()
    {
        // conv → depthwise → conv: the depthwise weight is divided by the second pair's scales and multiplied by the first's.
        var graph = new LayerGraphs([4, 7, 7], 3)
            .Conv("c1", 4, 6, 3, spread: 1.5f).Op("r1", OpTypes.Relu)
            .Conv("dw", 6, 6, 3, group: 6, spread: 1.5f).Op("r2", OpTypes.Relu)
            .Conv("c3", 6, 5, 1, spread: 1.5f).Build();
        var (equalized, report) = CrossLayerEqualization.Apply(graph);

        Assert.Equal([("c1", "dw"), ("dw", "c3")], report.Equalized.Select(p => (p.First, p.Second)));
        Assert.InRange(report.Sweeps, 3, 49);
        AssertSameOutputs(graph, equalized, Input(4, 3, 4, 7, 7));
        Assert.True(RangeMismatch(equalized, report) < 1e-3, $"ranges differ by {RangeMismatch(equalized, report):P3}");
        // One sweep leaves the first pair unequal: the second pair moved the depthwise weights after it.
        var (once, onceReport) = CrossLayerEqualization.Apply(graph, maxSweeps: 1);
        Assert.Equal(1, onceReport.Sweeps);
        Assert.True(RangeMismatch(once, onceReport) > 0.01, $"one sweep already equalized the chain ({RangeMismatch(once, onceReport):P3})");
    }

    [Fact]
    public void ClipFanOutAndPerChannelPReluAreSkippedWithTheirReason()
    {
        var graph = new LayerGraphs([3, 6, 6], 5)
            .Conv("c1", 3, 4, 3).Op("clip", OpTypes.Clip, Tensor.Scalar(0f), Tensor.Scalar(6f))
            .Conv("c2", 4, 4, 3).Op("r2", OpTypes.Relu);
        string branch = graph.Value;
        var built = graph.Conv("c3", 4, 4, 3).Add("join", branch)
            .Conv("c4", 4, 4, 1).Op("p4", OpTypes.PRelu, Tensor.Full(0.2f, 4, 1, 1))
            .Conv("c5", 4, 2, 1).Build();
        var (equalized, report) = CrossLayerEqualization.Apply(built);

        Assert.Empty(report.Equalized);
        Assert.Contains("Clip between", report.Skipped.Single(s => s.Layer == "c1").Reason);
        Assert.Contains("fan-out", report.Skipped.Single(s => s.Layer == "c2").Reason);
        Assert.Contains("Add", report.Skipped.Single(s => s.Layer == "c3").Reason);
        Assert.Contains("scalar", report.Skipped.Single(s => s.Layer == "c4").Reason);
        Assert.Equal(0, report.Sweeps);
        Assert.Equal(built.Initializers["c1.weight"].Data, equalized.Initializers["c1.weight"].Data);
    }

    [Fact]
    public void ScalesFollowThePapersFormulaAndLeaveZeroRangesAlone()
    {
        var s = CrossLayerEqualization.Scales([4.0, 1.0, 0.0, 2.0], [1.0, 4.0, 3.0, 0.0]);
        Assert.Equal([2.0, 0.5, 1.0, 1.0], s);   // (1/r2)·√(r1·r2): √4/1, √4/4; a zero range keeps 1
        Assert.Throws<CondenseException>(() => CrossLayerEqualization.Scales([1.0], [1.0, 2.0]));
    }
}
