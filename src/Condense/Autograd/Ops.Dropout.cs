// Inverted dropout (Srivastava et al. 2014): in training, zero each element with probability p and
// scale the survivors by 1/(1 − p), so evaluation needs no rescaling.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Dropout with probability <paramref name="p"/>, drawing the mask from <paramref name="rng"/>.</summary>
    public Tensor Dropout(float p, Rng rng)
    {
        if (p < 0f || p >= 1f) throw new CondenseException($"dropout probability must be in [0, 1), got {p}");
        if (p == 0f) return this;
        float scale = 1f / (1f - p);
        var mask = GC.AllocateUninitializedArray<float>(Size);
        for (int i = 0; i < Size; i++) mask[i] = rng.NextFloat() < p ? 0f : scale;
        var y = Uninitialized(Shape);
        System.Numerics.Tensors.TensorPrimitives.Multiply(Data, mask, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            System.Numerics.Tensors.TensorPrimitives.Multiply(g.Data, mask, gx);
            AccumulateGrad(gx);
        }, this);
    }
}
