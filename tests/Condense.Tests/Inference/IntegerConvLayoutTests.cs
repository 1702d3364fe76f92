// The integer conv engine's codes between convolutions: channels-last where the int8 dot product is the emitted zmm
// vpdpbusd (QConv2d.ChannelsLastIsNative) and the layer wide enough, with residual Adds run by the layer before them on
// its output rows. On resnet-mini of width 32 (a planar stem and 1×1 shortcut of 32 input channels, the other layers
// channels-last): the fused Adds give the bits of the separate Add steps; a model compiled channels-last gives the same
// logits, bit for bit, when forced onto every other int8 dot product (its convolutions then transpose around the planar
// kernels), and equals a model compiled planar under each of them.
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Inference;

public sealed class IntegerConvLayoutTests
{
    private static readonly Lazy<Dataset> Train = new(() => Mnist.LoadEmbedded().Train.Take(256));

    private static readonly Lazy<GraphModule> ResNetMini = new(() =>
    {
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("resnet-mini,width=32").Build(3), [784]));
        return Quantizer.Quantize(model, Train.Value, new QuantizeOptions { CalibrationSamples = 256 }).Model;
    });

    [Fact]
    public void FusedAddsAndEveryDotProductGiveTheSameBits()
    {
        var graph = ResNetMini.Value.Graph;
        var x = Train.Value.Batch(Enumerable.Range(0, 8).ToArray());
        var engine = IntegerConvModel.Compile(graph);
        Assert.True(engine.FusedAddCount > 0 || !QConv2d.ChannelsLastIsNative);
        var expected = engine.Forward(x).Data;
        engine.FuseResidualAdds = false;
        Assert.Equal(expected, engine.Forward(x).Data);
        engine.FuseResidualAdds = true;
        foreach (var dot in Cpu.SupportedInt8Dots)
            using (Cpu.Force(dot))
            {
                Assert.Equal(expected, engine.Forward(x).Data);
                Assert.Equal(expected, IntegerConvModel.Compile(graph).Forward(x).Data);
            }
    }
}
