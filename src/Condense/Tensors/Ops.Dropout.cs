// Inverted dropout (Srivastava et al. 2014): in training, zero each element with probability p and
// scale the survivors by 1/(1 − p), so evaluation needs no rescaling.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Dropout with probability <paramref name="p"/>, drawing the mask from <paramref name="rng"/>.</summary>
    public Tensor Dropout(float p, Rng rng) => DropoutWithMask(p, rng).Output;

    /// <summary>Dropout that also returns its keep-mask (1 where the element survived, 0 where dropped), as ONNX Dropout's second output.</summary>
    public (Tensor Output, Tensor Mask) DropoutWithMask(float p, Rng rng)
    {
        if (p < 0f || p >= 1f) throw new CondenseException($"dropout probability must be in [0, 1), got {p}");
        if (p == 0f) return (this, Full(1f, Shape));
        float scale = 1f / (1f - p);
        var mask = GC.AllocateUninitializedArray<float>(Size);
        for (int i = 0; i < Size; i++) mask[i] = rng.NextFloat() < p ? 0f : scale;
        var y = Uninitialized(Shape);
        System.Numerics.Tensors.TensorPrimitives.Multiply(Data, mask, y.Data);
        var output = Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            System.Numerics.Tensors.TensorPrimitives.Multiply(g.Data, mask, gx);
            AccumulateGrad(gx);
        }, this);
        return (output, new Tensor(mask.Select(m => m != 0f ? 1f : 0f).ToArray(), Shape));
    }
}
