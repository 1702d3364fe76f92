// Losses against hand computation, finite differences and closed-form gradients.
using Condense.Nn;
using Condense.Tensors;
using Condense.Tests.Autograd;

namespace Condense.Tests.Nn;

public sealed class LossTests
{
    private static double[] SoftmaxD(ReadOnlySpan<float> z, double temperature)
    {
        double max = double.NegativeInfinity;
        foreach (var v in z) max = Math.Max(max, v / temperature);
        var e = new double[z.Length];
        double sum = 0;
        for (int i = 0; i < z.Length; i++) sum += e[i] = Math.Exp(z[i] / temperature - max);
        for (int i = 0; i < z.Length; i++) e[i] /= sum;
        return e;
    }

    // T²/N · Σ_n Σ_c p_t (log p_t − log p_s), p = softmax(z/T), in double.
    private static double KlReference(Tensor student, Tensor teacher, double temperature)
    {
        int n = student.Shape[0], c = student.Shape[1];
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            var ps = SoftmaxD(student.Data.AsSpan(r * c, c), temperature);
            var pt = SoftmaxD(teacher.Data.AsSpan(r * c, c), temperature);
            for (int j = 0; j < c; j++) total += pt[j] * (Math.Log(pt[j]) - Math.Log(ps[j]));
        }
        return temperature * temperature * total / n;
    }

    [Fact]
    public void MseValueAndGradient()
    {
        var prediction = new Tensor([1f, -2f, 0.5f, 3f, 0f, 4f, -1f], 7) { RequiresGrad = true };
        var target = new Tensor([0f, 1f, 0.5f, -1f, 2f, 4f, 1f], 7);
        var loss = Losses.Mse(prediction, target);
        // diffs 1, −3, 0, 4, −2, 0, −2 → squares 1 + 9 + 0 + 16 + 4 + 0 + 4 = 34
        Assert.Equal(34f / 7f, loss.Item(), 6);
        loss.Backward();
        for (int i = 0; i < 7; i++)
            Assert.Equal(2f * (prediction.Data[i] - target.Data[i]) / 7f, prediction.Grad!.Data[i], 6);
    }

    [Fact]
    public void MseGradientMatchesFiniteDifferences()
    {
        var target = GradCheck.Random(2, 3, 5);
        GradCheck.Check(x => Losses.Mse(x[0], target), [GradCheck.Random(1, 3, 5)]);
    }

    [Fact]
    public void MseRejectsDifferentShapes()
    {
        var e = Assert.Throws<CondenseException>(() => Losses.Mse(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void KlDivergenceMatchesHandComputation()
    {
        var student = new Tensor([1f, 2f, 3f], 1, 3);
        var teacher = new Tensor([3f, 1f, 0.5f], 1, 3);
        // p = softmax(z/2): student exp(0.5, 1, 1.5), teacher exp(1.5, 0.5, 0.25).
        double[] es = [Math.Exp(0.5), Math.Exp(1.0), Math.Exp(1.5)];
        double[] et = [Math.Exp(1.5), Math.Exp(0.5), Math.Exp(0.25)];
        double zs = es.Sum(), zt = et.Sum();
        double kl = 0;
        for (int j = 0; j < 3; j++) kl += et[j] / zt * (Math.Log(et[j] / zt) - Math.Log(es[j] / zs));
        double expected = 4 * kl;

        Assert.Equal(expected, Losses.KlDivergence(student, teacher, 2f).Item(), 5);
        Assert.Equal(expected, KlReference(student, teacher, 2), 12);
    }

    [Theory]
    [InlineData(1, 7, 1f)]
    [InlineData(3, 7, 2f)]
    [InlineData(5, 33, 4f)]
    public void KlDivergenceMatchesReferenceOnBatches(int n, int c, float temperature)
    {
        var student = Tensor.Uniform(new Rng(1), -3f, 3f, n, c);
        var teacher = Tensor.Uniform(new Rng(2), -3f, 3f, n, c);
        double expected = KlReference(student, teacher, temperature);
        Assert.Equal(expected, Losses.KlDivergence(student, teacher, temperature).Item(), 4);
    }

    [Fact]
    public void KlDivergenceOfIdenticalLogitsIsZero()
    {
        var z = Tensor.Uniform(new Rng(4), -2f, 2f, 3, 7);
        Assert.Equal(0f, Losses.KlDivergence(z, z.Clone(), 3f).Item(), 5);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(2f)]
    [InlineData(5f)]
    public void KlDivergenceGradientMatchesClosedForm(float temperature)
    {
        // ∂/∂s of T²/N · KL(p_t ‖ p_s) = T · (softmax(s/T) − softmax(t/T)) / N; the teacher gets no gradient.
        const int n = 3, c = 7;
        var student = Tensor.Uniform(new Rng(5), -2f, 2f, n, c);
        var teacher = Tensor.Uniform(new Rng(6), -2f, 2f, n, c);
        student.RequiresGrad = true;
        teacher.RequiresGrad = true;
        Losses.KlDivergence(student, teacher, temperature).Backward();
        Assert.Null(teacher.Grad);
        for (int r = 0; r < n; r++)
        {
            var ps = SoftmaxD(student.Data.AsSpan(r * c, c), temperature);
            var pt = SoftmaxD(teacher.Data.AsSpan(r * c, c), temperature);
            for (int j = 0; j < c; j++)
                Assert.Equal(temperature * (ps[j] - pt[j]) / n, student.Grad!.Data[r * c + j], 5);
        }
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(3f)]
    public void KlDivergenceGradientMatchesFiniteDifferences(float temperature)
    {
        var teacher = GradCheck.Random(8, 2, 5);
        GradCheck.Check(x => Losses.KlDivergence(x[0], teacher, temperature), [GradCheck.Random(7, 2, 5)]);
    }

    [Fact]
    public void TemperatureSquaredKeepsGradientScaleForLargeT()
    {
        // For large T, T·(softmax(s/T) − softmax(t/T)) → (centred s − centred t)/C, independent of T.
        var teacher = Tensor.Uniform(new Rng(9), -2f, 2f, 2, 7);
        float[] Grad(float t)
        {
            var s = Tensor.Uniform(new Rng(10), -2f, 2f, 2, 7);
            s.RequiresGrad = true;
            Losses.KlDivergence(s, teacher, t).Backward();
            return s.Grad!.Data;
        }
        var g20 = Grad(20f);
        var g80 = Grad(80f);
        double norm20 = Math.Sqrt(g20.Sum(v => (double)v * v)), norm80 = Math.Sqrt(g80.Sum(v => (double)v * v));
        Assert.InRange(norm80 / norm20, 0.9, 1.1);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    public void KlDivergenceRejectsNonPositiveTemperature(float temperature) =>
        Assert.Throws<CondenseException>(() => Losses.KlDivergence(Tensor.Zeros(1, 3), Tensor.Zeros(1, 3), temperature));

    [Fact]
    public void KlDivergenceRejectsMismatchedShapes()
    {
        Assert.Throws<CondenseException>(() => Losses.KlDivergence(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.Throws<CondenseException>(() => Losses.KlDivergence(Tensor.Zeros(6), Tensor.Zeros(6)));
    }

    [Fact]
    public void CrossEntropyMatchesHandComputation()
    {
        var logits = new Tensor([1f, 2f, 3f, 0f, -1f, 0.5f], 2, 3);
        double row0 = -Math.Log(Math.Exp(2) / (Math.Exp(1) + Math.Exp(2) + Math.Exp(3)));
        double row1 = -Math.Log(Math.Exp(0) / (Math.Exp(0) + Math.Exp(-1) + Math.Exp(0.5)));
        Assert.Equal((row0 + row1) / 2, Losses.CrossEntropy(logits, [1, 0]).Item(), 5);
    }
}
