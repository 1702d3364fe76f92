// NumPy-style broadcasting as row loops: the output is walked one innermost row at a time and each
// operand contributes either a full row (stride 1) or a single repeated value (stride 0), so the row
// work can be done with vectorised span kernels.

namespace Condense.Kernels.Elementwise;

/// <summary>Offsets of an operand's rows when it is broadcast to a larger output shape.</summary>
internal static class Broadcast
{
    /// <summary>Strides of <paramref name="shape"/> seen from <paramref name="outShape"/>: 0 where broadcast.</summary>
    public static int[] StridesIn(int[] shape, int[] outShape)
    {
        var own = KernelShape.Strides(shape);
        var result = new int[outShape.Length];
        int shift = outShape.Length - shape.Length;
        for (int i = 0; i < shape.Length; i++)
            result[i + shift] = shape[i] == 1 && outShape[i + shift] != 1 ? 0 : own[i];
        return result;
    }

    /// <summary>
    /// For each innermost row of <paramref name="outShape"/>, the offset of the operand's matching data.
    /// The operand's innermost stride (1 or 0) is returned separately.
    /// </summary>
    public static int[] RowOffsets(int[] strides, int[] outShape, out int innerStride)
    {
        int rank = outShape.Length;
        innerStride = rank == 0 ? 0 : strides[rank - 1];
        int rows = 1;
        for (int i = 0; i < rank - 1; i++) rows *= outShape[i];
        var offsets = new int[rows];
        var index = new int[Math.Max(rank - 1, 0)];
        int offset = 0;
        for (int r = 0; r < rows; r++)
        {
            offsets[r] = offset;
            for (int d = rank - 2; d >= 0; d--)
            {
                index[d]++;
                offset += strides[d];
                if (index[d] < outShape[d]) break;
                offset -= strides[d] * outShape[d];
                index[d] = 0;
            }
        }
        return offsets;
    }

    /// <summary>
    /// Sums <paramref name="grad"/> (of shape <paramref name="outShape"/>) down to <paramref name="shape"/>,
    /// accumulating into <paramref name="target"/>.
    /// </summary>
    public static void SumInto(ReadOnlySpan<float> grad, int[] outShape, int[] shape, Span<float> target)
    {
        var strides = StridesIn(shape, outShape);
        var rows = RowOffsets(strides, outShape, out int inner);
        int width = outShape.Length == 0 ? 1 : outShape[^1];
        for (int r = 0; r < rows.Length; r++)
        {
            var row = grad.Slice(r * width, width);
            if (inner == 1)
            {
                var t = target.Slice(rows[r], width);
                System.Numerics.Tensors.TensorPrimitives.Add(t, row, t);
            }
            else target[rows[r]] += System.Numerics.Tensors.TensorPrimitives.Sum(row);
        }
    }
}
