// x^p with a tensor exponent that broadcasts against x (ONNX Pow). The gradients are
// ∂/∂x = p·x^(p−1) and ∂/∂p = x^p·ln x (0 at x = 0, p ≥ 0), each summed back over the dimensions its operand was broadcast in.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>x^p elementwise with NumPy broadcasting between x and the exponent <paramref name="p"/>.</summary>
    public Tensor Pow(Tensor p)
    {
        var shape = Tensors.Shape.Broadcast(Shape, p.Shape);
        var x = BroadcastData(this, shape);
        var y = Uninitialized(shape);
        // x² (a variance, the decomposed LayerNorm of exporters) is x·x, the correctly rounded value MathF.Pow gives.
        bool square = p.Size == 1 && p.Data[0] == 2f;
        float[]? exponents = square ? null : BroadcastData(p, shape);
        if (square) System.Numerics.Tensors.TensorPrimitives.Multiply(x, x, y.Data);
        else for (int i = 0; i < y.Size; i++) y.Data[i] = MathF.Pow(x[i], exponents![i]);
        var self = this;
        return Record(y, g =>
        {
            var e = exponents ?? BroadcastData(p, shape);
            if (self.RequiresGrad)
            {
                var gx = new float[y.Size];
                for (int i = 0; i < gx.Length; i++) gx[i] = g.Data[i] * e[i] * MathF.Pow(x[i], e[i] - 1f);
                ReduceInto(self, new Tensor(gx, shape), owned: true);
            }
            if (p.RequiresGrad)
            {
                var gp = new float[y.Size];
                // At x = 0 with p ≥ 0, x^p·ln x is 0·(−∞); its limit (and torch's pow_backward_exponent) is 0.
                for (int i = 0; i < gp.Length; i++) gp[i] = x[i] == 0f && e[i] >= 0f ? 0f : g.Data[i] * y.Data[i] * MathF.Log(x[i]);
                ReduceInto(p, new Tensor(gp, shape), owned: true);
            }
        }, this, p);
    }

    // The operand's values repeated out to the broadcast shape (its own buffer when it already has that size).
    private static float[] BroadcastData(Tensor t, int[] shape)
    {
        if (t.Size == Tensors.Shape.Size(shape)) return t.Data;
        var result = Uninitialized(shape);
        Apply(BinaryOp.Add, t, Scalar(0f), result);
        return result.Data;
    }
}
