// MatMul as NumPy and ONNX define it beyond (…, K) × (K, N): a 1-D left operand gains a leading 1 and
// a 1-D right operand a trailing 1 (both removed from the result), and the batch dimensions in front of
// the last two broadcast. Each batch is one GEMM call (Kernels/Transformer/BatchedGemm splits the batch between
// threads); the gradient of a broadcast operand sums over the batches that shared it: dA_b = G_b·B_bᵀ, dB_b = A_bᵀ·G_b.
using Condense.Kernels.Transformer;

namespace Condense.Tensors;

public partial class Tensor
{
    private Tensor BatchedMatMul(Tensor other)
    {
        if (other.Rank == 1)
        {
            // (…, K) × (K) = (…): multiply by the column (K, 1), then drop it.
            var column = MatMul(other.Reshape(other.Shape[0], 1));
            return column.Reshape(column.Shape[..^1]);
        }
        if (Rank == 1)
        {
            // (K) × (…, K, N) = (…, N): the row (1, K), then drop it.
            var row = Reshape(1, Shape[0]).BatchedMatMul(other);
            return row.Reshape([.. row.Shape[..^2], row.Shape[^1]]);
        }
        int m = Shape[^2], k = Shape[^1], n = other.Shape[^1];
        if (other.Shape[^2] != k)
            throw new CondenseException($"MatMul shapes {Tensors.Shape.Format(Shape)} and {Tensors.Shape.Format(other.Shape)} do not match");
        var batch = Tensors.Shape.Broadcast(Shape[..^2], other.Shape[..^2]);
        var offsetsA = BatchOffsets(Shape[..^2], batch, m * k);
        var offsetsB = BatchOffsets(other.Shape[..^2], batch, k * n);
        var y = Uninitialized([.. batch, m, n]);
        var offsetsY = Enumerable.Range(0, offsetsA.Length).Select(b => b * m * n).ToArray();
        BatchedGemm.Multiply(false, false, m, n, k, Data, offsetsA, other.Data, offsetsB, y.Data, offsetsY, accumulate: false);
        var a = this;
        return Record(y, g =>
        {
            if (a.RequiresGrad)
            {
                // Batches that share an operand slice add into it, so start from zero.
                var ga = new float[a.Size];
                BatchedGemm.Multiply(false, true, m, k, n, g.Data, offsetsY, other.Data, offsetsB, ga, offsetsA, accumulate: true);
                a.AccumulateGrad(ga);
            }
            if (other.RequiresGrad)
            {
                var gb = new float[other.Size];
                BatchedGemm.Multiply(true, false, k, n, m, a.Data, offsetsA, g.Data, offsetsY, gb, offsetsB, accumulate: true);
                other.AccumulateGrad(gb);
            }
        }, this, other);
    }

    // For each batch index of the broadcast batch shape, the offset of the operand's matrix (of
    // matrixSize elements); broadcast dimensions repeat the same matrix.
    private static int[] BatchOffsets(int[] shape, int[] batch, int matrixSize)
    {
        var strides = Kernels.Elementwise.Broadcast.StridesIn(shape, batch);
        int count = Tensors.Shape.Size(batch);
        var offsets = new int[count];
        var index = new int[batch.Length];
        for (int b = 0, offset = 0; b < count; b++)
        {
            offsets[b] = offset * matrixSize;
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                offset += strides[d];
                if (++index[d] < batch[d]) break;
                offset -= strides[d] * batch[d];
                index[d] = 0;
            }
        }
        return offsets;
    }
}
