// Reductions: the sum of everything, the mean, and the sum along one axis.
using System.Numerics.Tensors;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>The sum of all elements, as a scalar tensor.</summary>
    public Tensor Sum()
    {
        var y = Scalar(TensorPrimitives.Sum(Data));
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            Array.Fill(gx, g.Data[0]);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>The mean of all elements, as a scalar tensor.</summary>
    public Tensor Mean() => Sum().Mul(1f / Size);

    /// <summary>The sum along <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public Tensor Sum(int axis, bool keepDim = false)
    {
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank) throw new CondenseException($"axis {axis} out of range for rank {Rank}");
        var (outer, n, inner) = SplitAt(axis);
        var shape = (int[])Shape.Clone();
        shape[axis] = 1;
        var y = Zeros(shape);
        // Along the last axis (LayerNorm's mean over features) each output is one contiguous row's sum.
        if (inner == 1) for (int o = 0; o < outer; o++) y.Data[o] = TensorPrimitives.Sum(Data.AsSpan(o * n, n));
        else for (int o = 0; o < outer; o++)
            for (int k = 0; k < n; k++)
            {
                var src = Data.AsSpan((o * n + k) * inner, inner);
                var dst = y.Data.AsSpan(o * inner, inner);
                TensorPrimitives.Add(dst, src, dst);
            }
        if (!keepDim) y = new Tensor(y.Data, Shape.Where((_, i) => i != axis).ToArray());
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int o = 0; o < outer; o++)
                for (int k = 0; k < n; k++)
                    g.Data.AsSpan(o * inner, inner).CopyTo(gx.AsSpan((o * n + k) * inner, inner));
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>The mean along <paramref name="axis"/>.</summary>
    public Tensor Mean(int axis, bool keepDim = false) => Sum(axis, keepDim).Mul(1f / Dim(axis));

    // Views the tensor as (outer, n, inner) around one axis.
    internal (int Outer, int N, int Inner) SplitAt(int axis)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= Shape[i];
        for (int i = axis + 1; i < Rank; i++) inner *= Shape[i];
        return (outer, Shape[axis], inner);
    }
}
