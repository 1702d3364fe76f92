// Softmax and log-softmax along one axis, computed stably by subtracting the maximum.
// Gradients: softmax: gx = y ⊙ (g − Σ g⊙y); log-softmax: gx = g − softmax(x) · Σ g.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Softmax along <paramref name="axis"/> (default: the last).</summary>
    public Tensor Softmax(int axis = -1) => SoftmaxCore(axis, log: false);

    /// <summary>Log-softmax along <paramref name="axis"/> (default: the last).</summary>
    public Tensor LogSoftmax(int axis = -1) => SoftmaxCore(axis, log: true);

    private Tensor SoftmaxCore(int axis, bool log)
    {
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank) throw new CondenseException($"softmax axis {axis} out of range for rank {Rank}");
        var (outer, n, inner) = SplitAt(axis);
        var y = Uninitialized(Shape);
        // The last axis (attention scores, logits): contiguous rows on the vectorised, threaded kernel.
        if (inner == 1) Kernels.Transformer.SoftmaxRows.Forward(Data, y.Data, outer, n, log);
        else SoftmaxReference(Data, y.Data, outer, n, inner, log);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < inner; j++)
                {
                    int start = o * n * inner + j;
                    float dot = 0;
                    for (int k = 0; k < n; k++)
                        dot += log ? g.Data[start + k * inner] : g.Data[start + k * inner] * y.Data[start + k * inner];
                    for (int k = 0; k < n; k++)
                    {
                        int i = start + k * inner;
                        gx[i] = log ? g.Data[i] - MathF.Exp(y.Data[i]) * dot : y.Data[i] * (g.Data[i] - dot);
                    }
                }
            AccumulateGrad(gx);
        }, this);
    }

    // Softmax over the middle axis of (outer, n, inner), one strided row at a time, summing in double: the specification.
    internal static void SoftmaxReference(float[] x, float[] y, int outer, int n, int inner, bool log)
    {
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                int start = o * n * inner + j;
                float max = float.NegativeInfinity;
                for (int k = 0; k < n; k++) max = Math.Max(max, x[start + k * inner]);
                double sum = 0;
                for (int k = 0; k < n; k++) sum += MathF.Exp(x[start + k * inner] - max);
                float logSum = (float)Math.Log(sum);
                for (int k = 0; k < n; k++)
                {
                    float z = x[start + k * inner] - max - logSum;
                    y[start + k * inner] = log ? z : MathF.Exp(z);
                }
            }
    }
}
