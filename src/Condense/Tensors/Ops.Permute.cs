// ONNX Transpose: output dimension i is input dimension perm[i]; the gradient is the inverse permutation of the output
// gradient. The data movement merges axes that stay together and picks row copies or blocked matrix transposes where
// the permutation allows (PermuteInto).
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Permutes the dimensions: output dimension i is input dimension <paramref name="perm"/>[i] (ONNX Transpose).</summary>
    public Tensor Permute(params int[] perm)
    {
        if (perm.Length != Rank || perm.Order().Where((p, i) => p != i).Any())
            throw new CondenseException($"Transpose perm [{string.Join(", ", perm)}] is not a permutation of {Rank} dimensions");
        if (Rank == 2 && perm[0] == 1) return Transpose();
        var outShape = perm.Select(p => Shape[p]).ToArray();
        var y = Uninitialized(outShape);
        PermuteInto(Data, Shape, perm, y.Data);
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            PermuteInto(g.Data, outShape, inverse, gx);
            AccumulateGrad(gx);
        }, this);
    }

    // dst (shape inShape permuted) from src (shape inShape). Axes of one element are dropped and input axes that stay
    // side by side in the output merge (NCHW → NHWC is [N, C, H·W] → [N, H·W, C]); then a permutation that keeps the last
    // axis last moves whole rows, one that swaps the last two (attention's Kᵀ, channels to the last place) transposes
    // each matrix of the batch in cache blocks, and anything else walks dst in order stepping src by permuted strides.
    private static void PermuteInto(float[] src, int[] inShape, int[] perm, float[] dst)
    {
        (inShape, perm) = MergedAxes(inShape, perm);
        int rank = inShape.Length;
        if (rank <= 1) { src.AsSpan(0, dst.Length).CopyTo(dst); return; }
        if (perm[^1] == rank - 2 && perm[^2] == rank - 1 && perm[..^2].Select((p, i) => p == i).All(b => b))
        {
            int rows = inShape[^2], cols = inShape[^1], matrix = rows * cols;
            for (int start = 0; start < dst.Length; start += matrix)
                Transpose2D(src.AsSpan(start, matrix), dst.AsSpan(start, matrix), rows, cols);
            return;
        }
        var inStrides = new int[rank];
        for (int i = rank - 1, s = 1; i >= 0; s *= inShape[i], i--) inStrides[i] = s;
        var outShape = perm.Select(p => inShape[p]).ToArray();
        var strides = perm.Select(p => inStrides[p]).ToArray();
        var index = new int[rank];
        int offset = 0;
        if (perm[^1] == rank - 1)
        {
            // The last axis stays last (attention's [B, L, H, d] ↔ [B, H, L, d]): whole rows of d values move at once.
            int width = inShape[^1];
            for (int k = 0; k < dst.Length; k += width)
            {
                src.AsSpan(offset, width).CopyTo(dst.AsSpan(k, width));
                for (int d = rank - 2; d >= 0; d--)
                {
                    offset += strides[d];
                    if (++index[d] < outShape[d]) break;
                    offset -= strides[d] * outShape[d];
                    index[d] = 0;
                }
            }
            return;
        }
        for (int k = 0; k < dst.Length; k++)
        {
            dst[k] = src[offset];
            for (int d = rank - 1; d >= 0; d--)
            {
                offset += strides[d];
                if (++index[d] < outShape[d]) break;
                offset -= strides[d] * outShape[d];
                index[d] = 0;
            }
        }
    }

    // The permutation on the input's axes of more than one element, runs of input axes that stay consecutive in the
    // output merged into one: the same data movement over fewer, longer axes.
    private static (int[] Shape, int[] Perm) MergedAxes(int[] inShape, int[] perm)
    {
        var groups = new List<(int First, int Size)>();
        int last = -2;
        foreach (int axis in perm)
        {
            if (inShape[axis] == 1) continue;
            if (groups.Count > 0 && IsNextKept(inShape, last, axis)) groups[^1] = (groups[^1].First, groups[^1].Size * inShape[axis]);
            else groups.Add((axis, inShape[axis]));
            last = axis;
        }
        var byInput = groups.Select((g, output) => (g.First, g.Size, Output: output)).OrderBy(g => g.First).ToArray();
        var mergedPerm = new int[byInput.Length];
        for (int k = 0; k < byInput.Length; k++) mergedPerm[byInput[k].Output] = k;
        return ([.. byInput.Select(g => g.Size)], mergedPerm);
    }

    // Whether input axis `next` follows `previous` in the input once axes of one element are skipped.
    private static bool IsNextKept(int[] inShape, int previous, int next)
    {
        if (previous < 0 || next <= previous) return false;
        for (int a = previous + 1; a < next; a++) if (inShape[a] != 1) return false;
        return true;
    }

    // dst[j, i] = src[i, j] for a rows × cols matrix, in 32 × 32 blocks that stay in cache.
    private static void Transpose2D(ReadOnlySpan<float> src, Span<float> dst, int rows, int cols)
    {
        const int block = 32;
        for (int i0 = 0; i0 < rows; i0 += block)
            for (int j0 = 0; j0 < cols; j0 += block)
                for (int i = i0; i < Math.Min(i0 + block, rows); i++)
                    for (int j = j0; j < Math.Min(j0 + block, cols); j++)
                        dst[j * rows + i] = src[i * cols + j];
    }
}
