// The largest or smallest element along one axis (ONNX ReduceMax / ReduceMin). The gradient goes to the
// element that was picked (the first one on a tie), as PyTorch's max(dim) routes it.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>The maximum along <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public Tensor Max(int axis, bool keepDim = false) => Extreme(axis, keepDim, largest: true);

    /// <summary>The minimum along <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public Tensor Min(int axis, bool keepDim = false) => Extreme(axis, keepDim, largest: false);

    private Tensor Extreme(int axis, bool keepDim, bool largest)
    {
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank) throw new CondenseException($"axis {axis} out of range for rank {Rank}");
        var (outer, n, inner) = SplitAt(axis);
        if (n == 0) throw new CondenseException($"cannot take the {(largest ? "maximum" : "minimum")} over an empty axis of {Tensors.Shape.Format(Shape)}");
        var shape = (int[])Shape.Clone();
        shape[axis] = 1;
        if (!keepDim) shape = Shape.Where((_, i) => i != axis).ToArray();
        var y = Uninitialized(shape);
        // x is (outer, n, inner); picked[o·inner + i] is the index along the axis that won.
        var picked = new int[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float value = Data[o * n * inner + i];
                for (int k = 1; k < n; k++)
                {
                    float v = Data[(o * n + k) * inner + i];
                    if (largest ? v > value : v < value) { value = v; best = k; }
                }
                y.Data[o * inner + i] = value;
                picked[o * inner + i] = best;
            }
        return Record(y, g =>
        {
            var gx = new float[Size];
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    gx[(o * n + picked[o * inner + i]) * inner + i] = g.Data[o * inner + i];
            AccumulateGrad(gx);
        }, this);
    }
}
