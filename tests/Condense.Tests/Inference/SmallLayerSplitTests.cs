// Small int8 channels-last layers on one thread or split (Kernels/Platform/SmallLayers.cs), chosen by measurement
// (Inference/AlternatingTrial.cs): the trial against a clock the test drives — alternating ways after the warm-up, the
// lower median chosen, one slow call not moving it, every later call the chosen way —; the kernels' rules following the
// calling thread's choice and no other thread's; and the integer engine giving the same bits either way, choosing on its
// first calls and leaving the caller's setting as it found it.
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Quantization;

namespace Condense.Tests.Inference;

public sealed class SmallLayerSplitTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheTrialAlternatesAfterTheWarmUpAndKeepsTheLowerMedian(bool faster)
    {
        long now = 0;
        var trial = new AlternatingTrial(() => now);
        var ways = new List<bool>();
        int calls = 0;
        while (trial.Choice is null)
        {
            Assert.True(++calls < 100, "the trial never chose");
            trial.Run(way =>
            {
                ways.Add(way);
                // The faster way takes 10 ticks, the other 15; one call of the faster way, the 13th, is slow.
                now += calls == 13 ? 1000 : way == faster ? 10 : 15;
                return 0;
            });
        }
        Assert.Equal(faster, trial.Choice);
        Assert.Equal(AlternatingTrial.WarmupCalls + 2 * AlternatingTrial.Samples, calls);
        for (int i = 1; i < ways.Count; i++) Assert.NotEqual(ways[i - 1], ways[i]);
        for (int i = 0; i < 5; i++) trial.Run(way => { ways.Add(way); now += 1; return 0; });
        Assert.All(ways.Skip(calls), way => Assert.Equal(faster, way));
    }

    [Fact]
    public void TheKernelRulesFollowTheCallingThreadsChoice()
    {
        using var _ = Cpu.ForceThreads(2);
        // MobileNetV2's 16 → 96 expansion at 112² (27 operations a byte) and its first depthwise layer (32 channels at 112²).
        var expansion = new Conv2dGeometry(1, 16, 112, 112, 96, 1, 1, Conv2dOptions.Square(1, 0));
        var depthwise = new Conv2dGeometry(1, 32, 112, 112, 32, 3, 3, Conv2dOptions.Square(1, 1) with { Groups = 32 });
        Assert.False(QConv2dNhwc.SplitsBetweenThreads(expansion));
        Assert.Equal(1, QDepthwiseConv2d.ChannelsLastParts(depthwise));
        SmallLayers.SplitOnThisThread = true;
        try
        {
            Assert.True(QConv2dNhwc.SplitsBetweenThreads(expansion));
            Assert.Equal(2, QDepthwiseConv2d.ChannelsLastParts(depthwise));
            bool elsewhere = true;
            var thread = new Thread(() => elsewhere = QConv2dNhwc.SplitsBetweenThreads(expansion));
            thread.Start();
            thread.Join();
            Assert.False(elsewhere);
        }
        finally { SmallLayers.SplitOnThisThread = false; }
    }

    [Fact]
    public void TheEngineGivesTheSameBitsEitherWayAndChoosesOnItsFirstCalls()
    {
        int[] sample = [3, 23, 23];
        var graph = new LayerGraphs(sample, 5).Conv("c1", 3, 32, 3).Op("r1", OpTypes.Relu).Conv("c2", 32, 64, 3).Op("r2", OpTypes.Relu)
            .Conv("dw1", 64, 64, 3, group: 64).Op("r3", OpTypes.Relu).Conv("pw", 64, 48, 1).Op("r4", OpTypes.Relu)
            .Op("gap", OpTypes.GlobalAveragePool).Op("flat", OpTypes.Flatten).Gemm("fc", 48, 10).Build();
        var qdq = Quantizer.Quantize(new GraphModule(graph), new QuantizeOptions(), BiasCorrectionTests.Batches(11, 4, sample, 0, 2)).Model;
        var engine = IntegerConvModel.Compile(qdq.Graph);
        engine.Eval();
        var x = Tensor.Uniform(new Rng(41), 0, 2, [1, .. sample]);
        using var _ = Cpu.ForceThreads(2);
        engine.SplitSmallLayers = false;
        var kept = engine.Forward(x).Data;
        engine.SplitSmallLayers = true;
        Assert.Equal(kept, engine.Forward(x).Data);
        engine.SplitSmallLayers = null;
        for (int i = 0; i < AlternatingTrial.WarmupCalls + 2 * AlternatingTrial.Samples; i++)
        {
            Assert.Null(engine.SplitChosen(1));
            Assert.Equal(kept, engine.Forward(x).Data);
            Assert.False(SmallLayers.SplitOnThisThread);
        }
        Assert.NotNull(engine.SplitChosen(1));
        Assert.Null(engine.SplitChosen(2));
        Assert.Equal(kept, engine.Forward(x).Data);
    }
}
