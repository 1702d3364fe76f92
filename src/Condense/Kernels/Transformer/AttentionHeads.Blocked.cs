// One attention head a block of query rows at a time, as FlashAttention (Dao et al. 2022) tiles it, for the common case of
// a head one thread runs whole (L = 128, width 32 in all-MiniLM-L6-v2): Kᵀ and V are packed once into the GEMM micro-
// kernel's B panels, and for each block of MR query rows (read in place) the MR × L scores are computed into a buffer that
// stays in L1, the softmax runs on them there, and the micro-kernel reads them in place for the product with V, written
// straight into Y. The two
// products through the blocked GEMM instead (Head) write the whole L × L scores (64 KiB at L = 128: beyond L1), read them
// back for the softmax, and again to pack them, and pay the driver's set-up four times per head. Every score and output is
// the same micro-kernel call on the same panels as there (one K block each: width and L at most GemmBlocking.MaxDepth), so the bits are Head's
// for more than one query row; one query row, which the GEMM gives to GEMV, differs by rounding.
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

internal static unsafe partial class AttentionHeads
{
    /// <summary>Whether a head of these sizes runs blocked: every key counts (no padding cut) and one K block holds each product.</summary>
    private static bool RunsBlocked(AttentionShape s, int keys) => keys == s.KeyLength && keys <= GemmBlocking.MaxDepth && s.Width <= GemmBlocking.MaxDepth;

    /// <summary>Floats of scratch one thread needs to run heads of <paramref name="s"/> blocked.</summary>
    private static int BlockedScratch(AttentionShape s)
    {
        int panel = 32, rows = 12; // the widest NR and the tallest MR of the kernels
        int keysPadded = (s.KeyLength + panel - 1) / panel * panel, valuesPadded = (s.ValueWidth + panel - 1) / panel * panel;
        return keysPadded * s.Width + s.KeyLength * valuesPadded + rows * s.Width + rows * keysPadded + 4 * 16;
    }

    private static void HeadBlocked(KernelPath path, AttentionShape s, float scale, int b, int h, float* q, AttentionStrides qs, float* k,
        AttentionStrides ks, float* v, AttentionStrides vs, float* bias, AttentionStrides bs, float* y, float* scratch)
    {
        switch (path)
        {
            case KernelPath.Avx512:
                Blocked<GemmKernelAvx512>.Head(s, scale, b, h, q, qs, k, ks, v, vs, bias, bs, y, scratch);
                break;
            case KernelPath.Avx2:
                Blocked<GemmKernelAvx2>.Head(s, scale, b, h, q, qs, k, ks, v, vs, bias, bs, y, scratch);
                break;
            default:
                Blocked<GemmKernelScalar>.Head(s, scale, b, h, q, qs, k, ks, v, vs, bias, bs, y, scratch);
                break;
        }
    }

    private static class Blocked<TKernel> where TKernel : struct, IGemmKernel
    {
        public static void Head(AttentionShape s, float scale, int b, int h, float* q, AttentionStrides qs, float* k, AttentionStrides ks,
            float* v, AttentionStrides vs, float* bias, AttentionStrides bs, float* y, float* scratch)
        {
            int mr = TKernel.MR, nr = TKernel.NR, lq = s.QueryLength, lk = s.KeyLength, width = s.Width, dv = s.ValueWidth;
            bool avx = TKernel.Path != KernelPath.Scalar;
            int keysPadded = (lk + nr - 1) / nr * nr, valuesPadded = (dv + nr - 1) / nr * nr;
            float* qh = q + b * qs.Batch + h * qs.Head, kh = k + b * ks.Batch + h * ks.Head, vh = v + b * vs.Batch + h * vs.Head;
            float* biasHead = bias is null ? null : bias + b * bs.Batch + h * bs.Head;
            long yRow = (long)s.Heads * dv;
            float* yh = y + ((long)b * lq * s.Heads + h) * dv;
            // Scratch, each part on a cache line: Kᵀ panels, V panels, the query panel, the scores block.
            float* keyPanels = Align(scratch), valuePanels = Align(keyPanels + keysPadded * width);
            float* queryPanel = Align(valuePanels + lk * valuesPadded), scores = Align(queryPanel + mr * width);
            GemmPack.PackB(true, avx, kh, (int)ks.Row, 0, 0, width, lk, nr, keyPanels);
            GemmPack.PackB(false, avx, vh, (int)vs.Row, 0, 0, lk, dv, nr, valuePanels);
            for (int i0 = 0; i0 < lq; i0 += mr)
            {
                int rows = Math.Min(mr, lq - i0);
                // A whole block of query rows is read in place; a ragged last one is packed (the kernel reads MR rows).
                bool whole = rows == mr;
                if (!whole) GemmPack.PackA(false, avx, qh, (int)qs.Row, i0, 0, rows, width, mr, queryPanel);
                for (int j = 0; j < lk; j += nr)
                {
                    float* keyPanel = keyPanels + j * width, scoreTile = scores + j;
                    int keysUsed = Math.Min(nr, lk - j);
                    if (whole) TKernel.Run(width, qh + i0 * qs.Row, (nint)qs.Row, 1, keyPanel, scoreTile, keysPadded, rows, keysUsed, scale, 0f);
                    else TKernel.Run(width, queryPanel, keyPanel, scoreTile, keysPadded, rows, keysUsed, scale, 0f);
                }
                for (int i = 0; i < rows; i++)
                {
                    var row = new Span<float>(scores + (long)i * keysPadded, lk);
                    float* biasRow = biasHead is null ? null : biasHead + (i0 + i) * bs.Row;
                    if (TKernel.Path == KernelPath.Scalar) ReferenceRow(row, biasRow, bs.Column);
                    else SoftmaxRow(TKernel.Path, row, biasRow, bs.Column);
                }
                // The weights are read in place: the block holds MR rows, those past `rows` cleared (they feed rows that are dropped).
                if (!whole) new Span<float>(scores + rows * keysPadded, (mr - rows) * keysPadded).Clear();
                for (int j = 0; j < dv; j += nr)
                    TKernel.Run(lk, scores, keysPadded, 1, valuePanels + j * lk, yh + i0 * yRow + j, (int)yRow, rows, Math.Min(nr, dv - j), 1f, 0f);
            }
        }

        private static float* Align(float* p) => (float*)(((nint)p + 63) & ~(nint)63);
    }
}
