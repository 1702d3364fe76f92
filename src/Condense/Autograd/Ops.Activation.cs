// Pointwise nonlinearities and their derivatives, written in terms of the output where that is
// cheaper: relu' = [y > 0], sigmoid' = y(1 − y), tanh' = 1 − y².
using System.Numerics;
using System.Numerics.Tensors;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>max(x, 0).</summary>
    public Tensor Relu()
    {
        var y = Uninitialized(Shape);
        TensorPrimitives.Max(Data, 0f, y.Data);
        return Record(y, g => AccumulateGrad(MaskWherePositive(g.Data, y.Data)), this);
    }

    /// <summary>x where x &gt; 0, else slope · x.</summary>
    public Tensor LeakyRelu(float slope = 0.01f)
    {
        var y = Uninitialized(Shape);
        for (int i = 0; i < Size; i++) y.Data[i] = Data[i] > 0 ? Data[i] : slope * Data[i];
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int i = 0; i < Size; i++) gx[i] = Data[i] > 0 ? g.Data[i] : slope * g.Data[i];
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>1 / (1 + e^−x).</summary>
    public Tensor Sigmoid()
    {
        var y = Uninitialized(Shape);
        TensorPrimitives.Sigmoid(Data, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int i = 0; i < Size; i++) gx[i] = g.Data[i] * y.Data[i] * (1f - y.Data[i]);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh()
    {
        var y = Uninitialized(Shape);
        TensorPrimitives.Tanh(Data, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int i = 0; i < Size; i++) gx[i] = g.Data[i] * (1f - y.Data[i] * y.Data[i]);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>e^x.</summary>
    public Tensor Exp()
    {
        var y = Uninitialized(Shape);
        TensorPrimitives.Exp(Data, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            TensorPrimitives.Multiply(g.Data, y.Data, gx);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>Natural logarithm.</summary>
    public Tensor Log()
    {
        var y = Uninitialized(Shape);
        TensorPrimitives.Log(Data, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            TensorPrimitives.Divide(g.Data, Data, gx);
            AccumulateGrad(gx);
        }, this);
    }

    // g where y > 0, else 0 (the ReLU derivative applied to g).
    private static float[] MaskWherePositive(float[] g, float[] y)
    {
        var gx = GC.AllocateUninitializedArray<float>(g.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= g.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var mask = Vector.GreaterThan(new Vector<float>(y, i), Vector<float>.Zero);
                Vector.ConditionalSelect(mask, new Vector<float>(g, i), Vector<float>.Zero).CopyTo(gx, i);
            }
        }
        for (; i < g.Length; i++) gx[i] = y[i] > 0 ? g[i] : 0f;
        return gx;
    }
}
