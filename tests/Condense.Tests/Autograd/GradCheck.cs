using Condense.Tensors;

namespace Condense.Tests.Autograd;

/// <summary>Checks analytic gradients against central finite differences of L = Σ f(x) ⊙ R, R random.</summary>
internal static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, ulong seed = 1, float eps = 1e-2f, double tolerance = 2e-2)
    {
        foreach (var x in inputs) x.RequiresGrad = true;
        var probe = f(inputs);
        var weights = Tensor.Uniform(new Rng(seed), -1f, 1f, probe.Shape);
        double Loss()
        {
            using var _ = Condense.Autograd.GradMode.NoGrad();
            var y = f(inputs);
            double s = 0;
            for (int i = 0; i < y.Size; i++) s += (double)y.Data[i] * weights.Data[i];
            return s;
        }
        foreach (var x in inputs) x.Grad = null;
        f(inputs).Mul(weights).Sum().Backward();
        for (int t = 0; t < inputs.Length; t++)
        {
            var x = inputs[t];
            Assert.NotNull(x.Grad);
            for (int i = 0; i < x.Size; i++)
            {
                // Each write is marked: inference caches (packed GEMM weights, CSR copies) key on the tensor's Version.
                float saved = x.Data[i];
                x.Data[i] = saved + eps; x.MarkModified(); double plus = Loss();
                x.Data[i] = saved - eps; x.MarkModified(); double minus = Loss();
                x.Data[i] = saved; x.MarkModified();
                double numeric = (plus - minus) / (2 * eps);
                double analytic = x.Grad!.Data[i];
                double err = Math.Abs(numeric - analytic);
                Assert.True(err <= tolerance * (1 + Math.Abs(numeric)),
                    $"input {t} element {i}: analytic {analytic}, numeric {numeric}");
            }
        }
    }

    public static Tensor Random(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1f, 1f, shape);
}
