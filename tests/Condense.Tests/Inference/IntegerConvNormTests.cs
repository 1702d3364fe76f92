// The integer conv engine on DenseNet's pre-activation layers (Fixtures/onnx/dense-op13.onnx, torchvision's pattern exported
// by PyTorch: the Concat of every earlier feature → BN → ReLU → 1×1 conv, a transition, BN → ReLU → global pooling), quantized
// static: every batch norm that a quantization reads runs on codes (ChannelAffineStep: its Concat's inputs mapped channel by
// channel) and the last one, read by the global pooling, in float. Step by step those codes equal the float simulation's
// exactly and every other code is within one step; end to end the logits stay within 2 % of the simulation's and of
// PyTorch's. The kernel: ChannelAffineCodes on every path against the formula written out, for every code.
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;
using Xunit.Abstractions;

namespace Condense.Tests.Inference;

public sealed class IntegerConvNormTests(ITestOutputHelper output)
{
    [Fact]
    public void DenseNetsNormsRunOnCodes()
    {
        var x = Tensor.Normal(new Rng(5), 0f, 1f, 16, 3, 16, 16);   // as the fixture's input (torch.randn)
        var quantized = StepwiseCodes.QuantizedFixture("dense", x);
        var graph = quantized.Graph;
        var engine = IntegerConvModel.Compile(graph);

        // The norms a QuantizeLinear reads (through their ReLU): all but the last, which the global pooling reads.
        string? Codes(Node norm)
        {
            string value = norm.Outputs[0];
            while (graph.Consumers(value).ToList() is [{ OpType: OpTypes.Relu } relu]) value = relu.Outputs[0];
            return graph.Consumers(value).ToList() is [{ OpType: OpTypes.QuantizeLinear } q, ..] ? q.Outputs[0] : null;
        }
        var norms = graph.Nodes.Where(n => n.OpType == OpTypes.BatchNormalization).ToList();
        var onCodes = norms.Where(n => Codes(n) is not null).ToList();
        Assert.Equal(norms.Count - 1, onCodes.Count);
        var steps = engine.Steps.OfType<IntegerConvModel.ChannelAffineStep>().ToList();
        Assert.Equal(onCodes.Select(n => n.Name), steps.Select(s => s.Name));
        Assert.Contains(steps, s => s.Inputs.Length > 1);   // a Concat's inputs mapped side by side
        Assert.Equal([OpTypes.BatchNormalization], engine.Steps.OfType<IntegerConvModel.FloatNodeStep>()
            .Select(f => f.Node.OpType).Where(op => op == OpTypes.BatchNormalization).Distinct());

        var simulation = StepwiseCodes.Simulate(quantized, x);
        var stepwise = engine.ForwardStepwise(x, simulation);
        foreach (var norm in onCodes) Assert.Equal(simulation[Codes(norm)!].Data.Select(v => (byte)v), stepwise[Codes(norm)!]);
        StepwiseCodes.AssertWithinOneStep(engine, x, simulation, output);

        StepwiseCodes.AssertLogitsNear(engine, x, simulation, graph.Outputs[0].Name, "dense", output);
    }

    [Theory]
    [InlineData(37, 40, 0.031f, 9, 0.02f, 130, 0, 255)]    // channels past a multiple of 16, a wider output row
    [InlineData(16, 16, 0.05f, 0, 0.011f, 0, 0, 255)]
    [InlineData(48, 64, 0.0137f, 200, 0.05f, 17, 17, 240)] // a ReLU and a Clip after the norm: [z', Q(max)]
    public void TheKernelIsTheFormulaForEveryCode(int channels, int stride, float scale, int zeroPoint, float toScale, int toZeroPoint, int lo, int hi)
    {
        var rng = new Rng(9);
        var a = Tensor.Uniform(rng, -3f, 3f, channels).Data;
        var b = Tensor.Uniform(rng, -2f, 2f, channels).Data;
        var map = new ChannelAffine(scale, (byte)zeroPoint, a, b);
        int pixels = 256;   // pixel p holds code (p + 7c) mod 256 in channel c: every code in every channel
        var x = new byte[pixels * channels];
        for (int p = 0; p < pixels; p++)
            for (int c = 0; c < channels; c++) x[p * channels + c] = (byte)((p + 7 * c) % 256);
        foreach (var path in Cpu.SupportedPaths)
        {
            var y = new byte[pixels * stride];
            using (Cpu.Force(path)) ChannelAffineCodes.Map(x, y, pixels, stride, map, toScale, (byte)toZeroPoint, (byte)lo, (byte)hi);
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < channels; c++)
                {
                    float v = (x[p * channels + c] - zeroPoint) * scale * a[c] + b[c];
                    float q = MathF.Round(v / toScale, MidpointRounding.ToEven) + toZeroPoint;
                    Assert.Equal((byte)Math.Clamp(q, lo, hi), y[p * stride + c]);
                }
            for (int p = 0; p < pixels; p++) Assert.All(y.AsSpan(p * stride + channels, stride - channels).ToArray(), v => Assert.Equal(0, v));
        }
    }
}
