// HardSigmoid and HardSwish at inference run vectorized in float32 (MobileNetV3's gates and activations): against the
// ONNX formula in double, element by element, on values around the kinks (±3 for HardSwish, where αx + β crosses 0 and 1)
// and the special values; with a gradient wanted they still run through autograd.
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class HardActivationInferenceTests
{
    private static float[] Values()
    {
        var rng = new Rng(4);
        var values = new List<float> { 0f, -0f, 3f, -3f, 2.5f, -2.5f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e-30f };
        for (int i = 0; i < 1000; i++) values.Add(rng.NextFloat() * 16f - 8f);
        return [.. values];   // 1,010: not a multiple of any vector width
    }

    [Theory]
    [InlineData(OpTypes.HardSigmoid, 0.2f, 0.5f)]
    [InlineData(OpTypes.HardSigmoid, 0.3f, 0.4f)]
    [InlineData(OpTypes.HardSwish, 0f, 0f)]
    public void TheFloatKernelFollowsTheFormula(string op, float alpha, float beta)
    {
        var attributes = op == OpTypes.HardSigmoid
            ? new Dictionary<string, AttributeValue> { ["alpha"] = AttributeValue.Float(alpha), ["beta"] = AttributeValue.Float(beta) }
            : [];
        var node = new Node("n", op, ["x"], ["y"], attributes);
        var xs = Values();
        Tensor y;
        using (GradMode.NoGrad()) y = GraphOps.Run(node, [new Tensor(xs, xs.Length)], new OpContext(Training: false, new Rng(1)))[0];
        for (int i = 0; i < xs.Length; i++)
        {
            double x = xs[i];
            double expected = op == OpTypes.HardSigmoid ? Math.Max(0, Math.Min(1, alpha * x + beta)) : x * Math.Max(0, Math.Min(1, x / 6 + 0.5));
            if (double.IsNaN(expected)) Assert.True(float.IsNaN(y.Data[i]), $"{op}({x}) = {y.Data[i]}");
            else Assert.True(y.Data[i] == expected || Math.Abs(y.Data[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)),
                $"{op}({x}) = {y.Data[i]}, formula {expected}");
        }

        var tracked = new Tensor(xs[10..], xs.Length - 10) { RequiresGrad = true };
        var withGrad = GraphOps.Run(node, [tracked], new OpContext(Training: true, new Rng(1)))[0];
        Assert.True(withGrad.RequiresGrad);
    }
}
