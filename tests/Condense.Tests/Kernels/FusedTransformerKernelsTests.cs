// The kernels of FloatGraphFusion's fused ops against their plain references on every kernel path, odd widths
// (vector tails) and sizes that split between threads: GELU (erf in double; the tanh form against its formula in
// double, its ragged end with the lanes' bits) and last-axis layer normalization (moments
// summed in double); thread counts change no bit. Also: the graph ops use them at inference and agree with autograd.
using Condense.Autograd;
using Condense.Graph;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;
using Condense.Tensors;

using static Condense.Tests.Kernels.TransformerKernelsTests;

namespace Condense.Tests.Kernels;

public class FusedTransformerKernelsTests
{
    public static TheoryData<KernelPath, int> Lengths()
    {
        var data = new TheoryData<KernelPath, int>();
        foreach (var path in Cpu.SupportedPaths)
            foreach (int n in new[] { 1, 7, 16, 37, 384, 70_001 }) data.Add(path, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void GeluMatchesTheDoubleErfFormula(KernelPath path, int length)
    {
        var x = Tensor.Uniform(new Rng(1), -9f, 9f, length).Data;
        x[0] = 0f;
        using (Cpu.Force(path))
        {
            var y = WithThreads(2, () => { var o = new float[length]; GeluKernel.Apply(x, o); return o; });
            var one = WithThreads(1, () => { var o = new float[length]; GeluKernel.Apply(x, o); return o; });
            Assert.Equal(one, y);
            for (int i = 0; i < length; i++)
                Assert.Equal(0.5 * x[i] * (1 + Tensor.ErfDouble(x[i] / Math.Sqrt(2))), y[i], 1e-6 * Math.Max(1, Math.Abs(x[i])));
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void TanhGeluMatchesTheDoubleFormula(KernelPath path, int length)
    {
        var x = Tensor.Uniform(new Rng(11), -12f, 12f, length).Data;
        x[0] = 0f;
        if (length > 3) (x[1], x[2]) = (-60f, 60f);
        using (Cpu.Force(path))
        {
            var y = WithThreads(2, () => { var o = new float[length]; GeluKernel.ApplyTanh(x, o); return o; });
            var one = WithThreads(1, () => { var o = new float[length]; GeluKernel.ApplyTanh(x, o); return o; });
            Assert.Equal(one, y);
            for (int i = 0; i < length; i++)
            {
                // ½x(1 + tanh u) as x / (1 + e^(−2u)): equal, without the cancellation of 1 + tanh u at negative x. e^(−2u)
                // magnifies float's rounding of 2u (which the lanes compute in float) by |2u|: the tolerance grows with it.
                double v = x[i], twoU = 2 * Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v), expected = v / (1 + Math.Exp(-twoU));
                Assert.True(Math.Abs(expected - y[i]) <= (1e-6 + 2e-7 * Math.Abs(twoU)) * Math.Abs(expected) + 1e-30, $"{x[i]}: {y[i]} vs {expected}");
            }
            var shorter = new float[length - 5 > 0 ? length - 5 : 0];
            GeluKernel.ApplyTanh(x[..shorter.Length], shorter);
            Assert.Equal(y[..shorter.Length], shorter);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void LayerNormRowsMatchTheReference(KernelPath path, int width)
    {
        int rows = width > 1000 ? 2 : 53;
        var x = Tensor.Uniform(new Rng(2), -3f, 7f, rows * width).Data;
        var scale = Tensor.Uniform(new Rng(3), 0.5f, 2f, width).Data;
        var bias = Tensor.Uniform(new Rng(4), -1f, 1f, width).Data;
        foreach (var b in new[] { bias, null })
        {
            var expected = new float[x.Length];
            for (int r = 0; r < rows; r++)
                LayerNormRows.Reference(x.AsSpan(r * width, width), expected.AsSpan(r * width, width), scale, b, 1e-5f);
            using (Cpu.Force(path))
            {
                var y = WithThreads(2, () => { var o = new float[x.Length]; LayerNormRows.Forward(x, o, rows, scale, b, 1e-5f); return o; });
                var one = WithThreads(1, () => { var o = new float[x.Length]; LayerNormRows.Forward(x, o, rows, scale, b, 1e-5f); return o; });
                Assert.Equal(one, y);
                for (int i = 0; i < x.Length; i++) Assert.Equal(expected[i], y[i], 2e-5 * Math.Max(1, Math.Abs(expected[i])));
            }
        }
    }

    [Fact]
    public void GraphOpsAtInferenceAgreeWithAutograd()
    {
        var x = Tensor.Uniform(new Rng(5), -3f, 3f, 4, 6, 50);
        var scale = Tensor.Uniform(new Rng(6), 0.5f, 2f, 50);
        var bias = Tensor.Uniform(new Rng(7), -1f, 1f, 50);
        var layerNorm = new Node("ln", OpTypes.LayerNormalization, ["x", "s", "b"], ["y"],
            new Dictionary<string, AttributeValue> { ["epsilon"] = AttributeValue.Float(1e-3f) });
        var gelu = new Node("gelu", OpTypes.Gelu, ["x"], ["y"]);
        var tanhGelu = new Node("gelu", OpTypes.Gelu, ["x"], ["y"], new Dictionary<string, AttributeValue> { ["approximate"] = AttributeValue.String("tanh") });
        foreach (var (node, inputs) in new[] { (layerNorm, new Tensor?[] { x, scale, bias }), (gelu, [x]), (tanhGelu, [x]) })
        {
            var context = new OpContext(false, new Rng(0), new ModelGraph());
            Tensor training, inference;
            x.RequiresGrad = true;
            training = GraphOps.Run(node, inputs, context)[0];
            x.RequiresGrad = false;
            using (GradMode.NoGrad()) inference = GraphOps.Run(node, inputs, context)[0];
            for (int i = 0; i < x.Size; i++) Assert.Equal(training.Data[i], inference.Data[i], 2e-6 * Math.Max(1, Math.Abs(training.Data[i])));
        }
    }
}
