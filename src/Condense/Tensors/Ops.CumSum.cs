// Cumulative sum along an axis for every numeric type (ONNX CumSum), in order: integers wrap at every addition,
// float16 and bfloat16 are summed in float32 and each sum rounded to the type (as ONNX Runtime's float16 kernel gives,
// checked in TypedIndexOpParityTests). The float32 gradient of a
// cumulative sum is the cumulative sum of the gradient in the other direction.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// The running sums along <paramref name="axis"/>: element i is the sum of elements 0…i (exclusive: 0…i−1;
    /// reverse: i…n−1, or i+1…n−1 when also exclusive). Float32 records its gradient.
    /// </summary>
    public Tensor CumSum(int axis, bool exclusive, bool reverse)
    {
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank) throw new CondenseException($"{nameof(CumSum)}: axis out of range for rank {Rank}");
        if (DataType == DataType.Bool) throw new CondenseException($"{nameof(CumSum)}: bool tensors have no sums");
        int outer = Tensors.Shape.Size(Shape.AsSpan(0, axis)), n = Shape[axis], inner = Tensors.Shape.Size(Shape.AsSpan(axis + 1));
        var y = Allocate(DataType, Shape);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int first = o * n * inner + i, step = reverse ? -inner : inner;
                if (reverse) first += (n - 1) * inner;
                switch (DataType.Storage())
                {
                    case TensorStorage.Single: Scan(_floats!, y._floats!, first, step, n, exclusive, (a, b) => a + b); break;
                    case TensorStorage.Double: Scan(_doubles!, y._doubles!, first, step, n, exclusive, (a, b) => a + b); break;
                    default: Scan(_longs!, y._longs!, first, step, n, exclusive, (a, b) => DataType.Wrap(a + b)); break;
                }
            }
        if (DataType is DataType.Float16 or DataType.BFloat16)
            for (int i = 0; i < y.Size; i++) y._floats![i] = DataType.Round(y._floats[i]);
        if (DataType != DataType.Float32) return y;
        return Record(y, g => AccumulateGrad(g.Detach().CumSum(axis, exclusive, !reverse).Data), this);
    }

    private static void Scan<T>(T[] x, T[] y, int first, int step, int n, bool exclusive, Func<T, T, T> add) where T : struct
    {
        T sum = default;
        for (int l = 0, at = first; l < n; l++, at += step)
        {
            if (exclusive) { y[at] = sum; sum = add(sum, x[at]); }
            else { sum = add(sum, x[at]); y[at] = sum; }
        }
    }
}
