// Distiller.Loss against hand computation in double, finite differences and the closed-form gradient
//   ∂L/∂s = α·T·(softmax(s/T) − softmax(t/T))/N + (1 − α)·(softmax(s) − onehot(y))/N,
// the T² scaling of the soft term, and the two ends of α (plain cross-entropy; no labels needed).
using Condense.Data;
using Condense.Distillation;
using Condense.Nn;
using Condense.Tensors;
using Condense.Tests.Autograd;

namespace Condense.Tests.Distillation;

public sealed class DistillLossTests
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

    // The closed-form gradient of the distillation loss with respect to the student logits, in double.
    private static double[] GradientReference(Tensor student, Tensor teacher, int[] labels, double temperature, double alpha)
    {
        int n = student.Shape[0], c = student.Shape[1];
        var g = new double[n * c];
        for (int r = 0; r < n; r++)
        {
            var psT = SoftmaxD(student.Data.AsSpan(r * c, c), temperature);
            var ptT = SoftmaxD(teacher.Data.AsSpan(r * c, c), temperature);
            var ps = SoftmaxD(student.Data.AsSpan(r * c, c), 1);
            for (int j = 0; j < c; j++)
                g[r * c + j] = alpha * temperature * (psT[j] - ptT[j]) / n
                    + (alpha < 1 ? (1 - alpha) * (ps[j] - (labels[r] == j ? 1 : 0)) / n : 0);
        }
        return g;
    }

    private static float[] Gradient(Tensor student, Tensor teacher, int[] labels, float temperature, float alpha)
    {
        var s = new Tensor(student.Data.ToArray(), student.Shape) { RequiresGrad = true };
        Distiller.Loss(s, teacher, labels, temperature, alpha).Backward();
        return s.Grad!.Data.ToArray();
    }

    [Fact]
    public void ValueMatchesHandComputation()
    {
        var student = new Tensor([1f, 2f, 3f], 1, 3);
        var teacher = new Tensor([3f, 1f, 0.5f], 1, 3);
        const double T = 2, alpha = 0.7;
        var ps = SoftmaxD([1f, 2f, 3f], T);
        var pt = SoftmaxD([3f, 1f, 0.5f], T);
        double kl = 0;
        for (int j = 0; j < 3; j++) kl += pt[j] * (Math.Log(pt[j]) - Math.Log(ps[j]));
        double ce = -Math.Log(SoftmaxD([1f, 2f, 3f], 1)[2]);
        double expected = alpha * T * T * kl + (1 - alpha) * ce;

        float loss = Distiller.Loss(student, teacher, [2], (float)T, (float)alpha).Item();
        Assert.Equal(expected, loss, 5);
        Assert.True(expected > 1, "the example should be far from trivial"); // ≈ 2.12
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var teacher = GradCheck.Random(2, 5, 7).Mul(3f);
        int[] labels = [0, 6, 3, 3, 1];
        GradCheck.Check(x => Distiller.Loss(x[0], teacher, labels, 2f, 0.7f), [GradCheck.Random(1, 5, 7).Mul(3f)]);
        GradCheck.Check(x => Distiller.Loss(x[0], teacher, labels, 4f, 1f), [GradCheck.Random(3, 5, 7).Mul(3f)]);
    }

    [Theory]
    [InlineData(1f, 0.5f)]
    [InlineData(2f, 0.7f)]
    [InlineData(4f, 0.9f)]
    [InlineData(8f, 1f)]
    public void GradientMatchesTheClosedForm(float temperature, float alpha)
    {
        var student = GradCheck.Random(11, 7, 10).Mul(4f);
        var teacher = GradCheck.Random(12, 7, 10).Mul(4f);
        int[] labels = [0, 9, 3, 3, 1, 5, 7];
        var actual = Gradient(student, teacher, labels, temperature, alpha);
        var expected = GradientReference(student, teacher, labels, temperature, alpha);
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i], actual[i], 5);
    }

    // Hinton et al. §2: the soft term's gradients scale as 1/T², so the loss is multiplied by T² to keep
    // their magnitude as T changes. For large T the gradient tends to (s − t − mean(s − t))/(C·N), independent of T.
    [Fact]
    public void SoftGradientsKeepTheirMagnitudeAsTemperatureGrows()
    {
        var student = GradCheck.Random(21, 8, 10).Mul(2f);
        var teacher = GradCheck.Random(22, 8, 10).Mul(2f);
        int n = 8, c = 10;
        double Norm(float[] g) => Math.Sqrt(g.Sum(v => (double)v * v));
        var norms = new[] { 1f, 4f, 16f }.Select(t => Norm(Gradient(student, teacher, [], t, 1f))).ToArray();
        var limit = new double[n * c];
        for (int r = 0; r < n; r++)
        {
            double mean = 0;
            for (int j = 0; j < c; j++) mean += (student.Data[r * c + j] - teacher.Data[r * c + j]) / (double)c;
            for (int j = 0; j < c; j++) limit[r * c + j] = (student.Data[r * c + j] - teacher.Data[r * c + j] - mean) / (c * n);
        }
        double limitNorm = Math.Sqrt(limit.Sum(v => v * v));
        foreach (var norm in norms)
            Assert.InRange(norm / norms[^1], 0.5, 2.0); // without T² the T = 16 gradient would be 256× smaller than T = 1's
        Assert.InRange(norms[^1] / limitNorm, 0.95, 1.05);
    }

    [Fact]
    public void AlphaZeroIsCrossEntropyExactly()
    {
        var student = GradCheck.Random(31, 6, 10).Mul(3f);
        var teacher = GradCheck.Random(32, 6, 10).Mul(3f);
        int[] labels = [1, 2, 3, 4, 5, 9];
        var a = new Tensor(student.Data.ToArray(), student.Shape) { RequiresGrad = true };
        var b = new Tensor(student.Data.ToArray(), student.Shape) { RequiresGrad = true };
        var distil = Distiller.Loss(a, teacher, labels, 4f, 0f);
        var ce = Losses.CrossEntropy(b, labels);
        Assert.Equal(ce.Item(), distil.Item());
        distil.Backward();
        ce.Backward();
        Assert.Equal(b.Grad!.Data, a.Grad!.Data);
    }

    [Fact]
    public void AlphaOneIgnoresLabels()
    {
        var student = GradCheck.Random(41, 6, 10).Mul(3f);
        var teacher = GradCheck.Random(42, 6, 10).Mul(3f);
        Assert.Equal(Distiller.Loss(student, teacher, [], 4f, 1f).Item(), Distiller.Loss(student, teacher, [0, 1, 2, 3, 4, 5], 4f, 1f).Item());
        Assert.Equal(Gradient(student, teacher, [], 4f, 1f), Gradient(student, teacher, [9, 9, 9, 9, 9, 9], 4f, 1f));
    }

    [Fact]
    public void AlphaBelowOneNeedsLabels()
    {
        var e = Assert.Throws<CondenseException>(() => Distiller.Loss(GradCheck.Random(1, 2, 3), GradCheck.Random(2, 2, 3), [], 4f, 0.5f));
        Assert.DoesNotContain('\n', e.Message);

        var (train, _) = Mnist.LoadEmbedded();
        var small = train.Take(64);
        var unlabelled = new Dataset(small.Features, null, small.SampleShape, "unlabelled");
        var teacher = ModelSpec.Parse("mlp:784-8-10").Build(1);
        var options = new DistillOptions { Alpha = 0.5f, Train = new DistillOptions().Train with { Epochs = 1 } };
        e = Assert.Throws<CondenseException>(() => Distiller.Distill(ModelSpec.Parse("mlp:784-4-10").Build(2), teacher, unlabelled, null, options));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("alpha = 1", e.Message);
    }
}
