// The integer conv engine's codes between convolutions: channels-last where the int8 dot product is the emitted zmm
// vpdpbusd (QConv2d.ChannelsLastIsNative) and the layer wide enough, with residual Adds run by the layer before them on
// its output rows. On resnet-mini of width 32 (a planar stem and 1×1 shortcut of 32 input channels, the other layers
// channels-last): the fused Adds give the bits of the separate Add steps; a model compiled channels-last gives the same
// logits, bit for bit, when forced onto every other int8 dot product (its convolutions then transpose around the planar
// kernels), and equals a model compiled planar under each of them. The whole-image average pooling step gives the bits of
// the float pooling kernel.
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

    [Theory]
    [InlineData(7, 7)]
    [InlineData(5, 3)]
    public void WholeImageMeanEqualsTheAveragePoolingKernel(int h, int w)
    {
        var rng = new Rng(3);
        var x = new float[6 * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 40 - 3);
        var expected = new float[6];
        var window = new Condense.Kernels.Pool.PoolParameters(h, w, 1, 1, 0, 0, 0, 0, 1, 1, false);
        Condense.Kernels.Pool.Pooling.AvgForward(x, expected, 6, h, w, window, countIncludePad: false);
        var actual = new float[6];
        IntegerConvModel.Mean(x, actual, 6, h * w);
        Assert.Equal(expected, actual);
    }
}
