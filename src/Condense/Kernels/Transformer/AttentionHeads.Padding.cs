// Trailing padded keys of a batch of unequal sequences: a padding mask (BERT's (1 − mask)·−10000, or −∞) adds the same
// large negative bias to the last keys of every query row of a sequence, so their softmax weights e^(x − max) are
// below e^ExpKernel.Low (≈ 1.2e−38) — exactly 0 in ExpKernel — and the scores, the softmax and the product with V
// can stop at the last key that counts. Skipping them is exact, not a guess: for a bias that is the same for every
// query row, the cut is placed after the last key whose bias is within |Low| of the largest, the scores are computed up
// to it, and the keys after it are dropped only if, for every query row i, the Cauchy–Schwarz bound
//   |scale|·‖q_i‖·max_j‖k_j‖ + max_j bias_j − max_(kept j') (scale·⟨q_i, k_j'⟩ + bias_j') < Low − 1   (j past the cut)
// holds (the largest score past the cut against the row's maximum), with slack for the float rounding of the scores
// and norms; otherwise every key is computed. A batch of short sentences
// padded to a common length (sentence-transformers pads to the longest, or to 128) does a fraction of the attention work.
using System.Numerics.Tensors;

namespace Condense.Kernels.Transformer;

internal static unsafe partial class AttentionHeads
{
    /// <summary>
    /// The keys [0, cut) that can carry weight under a bias row shared by every query row: after the last key whose bias is
    /// within |Low| of the largest; all keys when none is below that.
    /// </summary>
    internal static int PaddingCut(float* biasRow, int keys)
    {
        float largest = float.NegativeInfinity;
        for (int j = 0; j < keys; j++) largest = Math.Max(largest, biasRow[j]);
        if (!float.IsFinite(largest)) return keys;
        int cut = keys;
        while (cut > 1 && biasRow[cut - 1] < largest + ExpKernel.Low) cut--;
        return cut;
    }

    /// <summary>
    /// Whether the weights of keys [cut, KeyLength) are 0 for every query row, given the scores of keys [0, cut) (lq × cut,
    /// before the bias): the bound of the file's header, with the largest ‖q_i‖ for every row and the least first kept
    /// x_i0 for every row's maximum (both only loosen it), so the check costs O((Lq + Lk − cut)·width) next to the
    /// O(Lq·(Lk − cut)·width) it saves.
    /// </summary>
    internal static bool TailVanishes(AttentionShape s, float scale, float* q, long qRow, float* k, long kRow, float* biasRow,
        float* scores, int cut)
    {
        double keyNorm = 0, tailBias = double.NegativeInfinity, queryNorm = 0, first = double.PositiveInfinity;
        for (int j = cut; j < s.KeyLength; j++)
        {
            keyNorm = Math.Max(keyNorm, SquaredNorm(k + j * kRow, s.Width));
            tailBias = Math.Max(tailBias, biasRow[j]);
        }
        for (int i = 0; i < s.QueryLength; i++)
        {
            queryNorm = Math.Max(queryNorm, SquaredNorm(q + i * qRow, s.Width));
            first = Math.Min(first, (double)scores[(long)i * cut] + biasRow[0]);
        }
        double bound = Math.Abs(scale) * Math.Sqrt(queryNorm * keyNorm) * (1 + 1e-4) + 1e-4;
        return bound + tailBias - first < ExpKernel.Low - 1;
    }

    private static double SquaredNorm(float* x, int width) => TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(x, width));
}
