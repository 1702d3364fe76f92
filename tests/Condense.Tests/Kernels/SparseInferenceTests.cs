// The engine's automatic sparse path: a pruned weight at inference goes through the CSR kernel and
// gives the dense answer; a change to the weights (through the library) is seen at once; training
// and weights below the threshold stay dense.
using Condense.Autograd;
using Condense.Kernels.FloatGemm;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class SparseInferenceTests
{
    private static (Tensor W, Tensor B, Tensor X) Layer(double sparsity, int batch)
    {
        var rng = new Rng(3);
        var w = Tensor.Uniform(rng, -1f, 1f, 37, 65);
        for (int i = 0; i < w.Size; i++) if (rng.NextDouble() < sparsity) w.Data[i] = 0f;
        return (w, Tensor.Uniform(rng, -1f, 1f, 37), Tensor.Uniform(rng, -1f, 1f, batch, 65));
    }

    private static float[] Reference(Tensor x, Tensor w, Tensor b)
    {
        var y = new float[x.Shape[0] * w.Shape[0]];
        GemmReference.Multiply(false, true, x.Shape[0], w.Shape[0], w.Shape[1], 1f, x.Data, w.Shape[1], w.Data, w.Shape[1], 0f, y, w.Shape[0]);
        for (int r = 0; r < x.Shape[0]; r++) for (int o = 0; o < w.Shape[0]; o++) y[r * w.Shape[0] + o] += b.Data[o];
        return y;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void SparseWeightsAtInferenceGiveTheDenseAnswer(int batch)
    {
        var (w, b, x) = Layer(0.9, batch);
        Assert.NotNull(SparseInference.For(w, batch));
        Tensor y;
        using (GradMode.NoGrad()) y = Tensor.Linear(x, w, b);
        var expected = Reference(x, w, b);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], y.Data[i], 1e-4f);
    }

    [Fact]
    public void ChangedWeightsAreSeenThroughTheVersion()
    {
        var (w, b, x) = Layer(0.9, 1);
        using var _ = GradMode.NoGrad();
        Tensor.Linear(x, w, b);                  // builds the cached CSR copy
        int i = Array.FindIndex(w.Data, v => v != 0f);
        w.Data[i] += 5f;
        w.MarkModified();
        var y = Tensor.Linear(x, w, b);
        var expected = Reference(x, w, b);
        for (int k = 0; k < expected.Length; k++) Assert.Equal(expected[k], y.Data[k], 1e-4f);
    }

    [Fact]
    public void DenseWeightsAndTrainingStayDense()
    {
        var (w, _, _) = Layer(0.3, 1);
        Assert.Null(SparseInference.For(w, 1));
        var (sparse, _, _) = Layer(0.9, 1);
        using (SparseInference.Disable()) Assert.Null(SparseInference.For(sparse, 1));
        // With gradients recorded, the dense product runs and the gradient flows.
        var (w2, b2, x2) = Layer(0.9, 3);
        w2.RequiresGrad = true;
        Tensor.Linear(x2, w2, b2).Sum().Backward();
        Assert.NotNull(w2.Grad);
    }
}
