// Pointwise nonlinearities and their derivatives, written in terms of the output where that is
// cheaper: relu' = [y > 0], sigmoid' = y(1 − y), tanh' = 1 − y², exp' = y, log' = 1/x.
// Every op is one forward span kernel plus one gradient rule, run by the shared Pointwise helper.
using System.Numerics;
using System.Numerics.Tensors;

namespace Condense.Tensors;

public partial class Tensor
{
    // The gradient rule of a pointwise op: gx[i] from g[i], the input x[i] and the output y[i].
    private delegate void PointwiseGradient(ReadOnlySpan<float> g, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> gx);

    /// <summary>max(x, 0).</summary>
    public Tensor Relu() => Pointwise((x, y) => TensorPrimitives.Max(x, 0f, y), (g, _, y, gx) => MaskWherePositive(g, y, gx));

    /// <summary>x where x &gt; 0, else slope · x.</summary>
    public Tensor LeakyRelu(float slope = 0.01f) => Pointwise(
        (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i]; },
        (g, x, _, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = x[i] > 0 ? g[i] : slope * g[i]; });

    /// <summary>1 / (1 + e^−x).</summary>
    public Tensor Sigmoid() => Pointwise(TensorPrimitives.Sigmoid,
        (g, _, y, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = g[i] * y[i] * (1f - y[i]); });

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh() => Pointwise(TensorPrimitives.Tanh,
        (g, _, y, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = g[i] * (1f - y[i] * y[i]); });

    /// <summary>e^x.</summary>
    public Tensor Exp() => Pointwise(TensorPrimitives.Exp, (g, _, y, gx) => TensorPrimitives.Multiply(g, y, gx));

    /// <summary>Natural logarithm.</summary>
    public Tensor Log() => Pointwise(TensorPrimitives.Log, (g, x, _, gx) => TensorPrimitives.Divide(g, x, gx));

    private Tensor Pointwise(TensorPrimitiveUnary forward, PointwiseGradient gradient)
    {
        var y = Uninitialized(Shape);
        forward(Data, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            gradient(g.Data, Data, y.Data, gx);
            AccumulateGrad(gx);
        }, this);
    }

    private delegate void TensorPrimitiveUnary(ReadOnlySpan<float> x, Span<float> destination);

    // gx = g where y > 0, else 0 (the ReLU derivative applied to g).
    private static void MaskWherePositive(ReadOnlySpan<float> g, ReadOnlySpan<float> y, Span<float> gx)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= g.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var mask = Vector.GreaterThan(new Vector<float>(y[i..]), Vector<float>.Zero);
                Vector.ConditionalSelect(mask, new Vector<float>(g[i..]), Vector<float>.Zero).CopyTo(gx[i..]);
            }
        }
        for (; i < g.Length; i++) gx[i] = y[i] > 0 ? g[i] : 0f;
    }
}
