// Multi-head scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need", eq. 1) on the head-split
// layout a transformer's projections are reshaped to, [batch, length, heads, width], without transposing it: for each
// (batch, head) Y = softmax(scale·Q·Kᵀ + bias)·V, where Q, K and V are strided views (a row every heads·width floats)
// and Y is written straight into [batch, query length, heads, value width]. BERT-style exports write this as
// Transpose(Q), Transpose(K), MatMul, Div, Add(mask), Softmax, Transpose(V), MatMul, Transpose — five passes over the
// [batch, heads, L, L] scores and four copies of the activations; here the L×L scores of one head live in a scratch
// buffer in cache, the scale is the GEMM's alpha, and the additive mask (any shape that broadcasts to [batch, heads,
// Lq, Lk], by strides, 0 where broadcast) joins the softmax, whose exponentials are ExpKernel's; trailing padded keys
// whose weights are exactly 0 are skipped (AttentionHeads.Padding.cs); a head one thread runs whole, every key counting,
// goes a block of query rows at a time with its scores in L1 (AttentionHeads.Blocked.cs; the softmax row is in
// AttentionHeads.Softmax.cs). ONNX Runtime's fused Attention and
// MultiHeadAttention kernels work the same way. The products are Kernels/FloatGemm's (transB for Kᵀ); threads claim
// (batch, head) pairs one at a time, each computed by one thread, so the bits do not depend on the thread count.
// The reference is a plain loop in double; the Scalar path sums its softmax in double as well.
using System.Buffers;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>Element strides of a 4-D operand indexed (batch, head, row, column); 0 where the operand is broadcast.</summary>
internal readonly record struct AttentionStrides(long Batch, long Head, long Row, long Column);

/// <summary>Sizes of one attention call: Y[b, i, h, :] for b &lt; Batch, h &lt; Heads, i &lt; QueryLength.</summary>
internal readonly record struct AttentionShape(int Batch, int Heads, int QueryLength, int KeyLength, int Width, int ValueWidth);

/// <summary>softmax(scale·Q·Kᵀ + bias)·V per (batch, head) on strided operands.</summary>
internal static unsafe partial class AttentionHeads
{
    /// <summary>Flops of one head below which heads are split between threads (one head then runs on one thread).</summary>
    private const long HeadParallelFlops = 10_000_000;

    /// <summary>Total flops below which one thread does every head.</summary>
    private const long ParallelFlops = 2_000_000;

    /// <summary>
    /// Y[b, i, h, :] = Σ_j softmax_j(scale·⟨Q[b, h, i], K[b, h, j]⟩ + bias[b, h, i, j])·V[b, h, j, :] for Y tight in
    /// [Batch, QueryLength, Heads, ValueWidth]; Q, K and V have unit column stride, <paramref name="bias"/> may be null.
    /// </summary>
    public static void Forward(AttentionShape s, float scale, float[] q, AttentionStrides qs, float[] k, AttentionStrides ks,
        float[] v, AttentionStrides vs, float[]? bias, AttentionStrides bs, float[] y)
    {
        int pairs = s.Batch * s.Heads;
        if (pairs == 0 || s.QueryLength == 0 || s.ValueWidth == 0) return;
        long flops = 2L * s.QueryLength * s.KeyLength * (s.Width + s.ValueWidth);
        // Heads too large to share out run in order, each GEMM then splitting itself between threads.
        int parts = flops >= HeadParallelFlops || flops * pairs < ParallelFlops ? 1 : Math.Min(Cpu.Threads, pairs);
        // A head one thread runs whole runs a block of query rows at a time (AttentionHeads.Blocked.cs).
        bool blocked = flops < HeadParallelFlops;
        var job = new HeadsJob(Cpu.Active, s, blocked, scale, q, qs, k, ks, v, vs, bias, bs, y);
        if (parts <= 1) job.Execute(0);
        else WorkerPool.Run(job, parts);
    }

    // Each part claims the next (batch, head) until none is left, so a thread the OS delays holds up one head at most.
    private sealed class HeadsJob(KernelPath path, AttentionShape s, bool blocked, float scale, float[] q, AttentionStrides qs, float[] k,
        AttentionStrides ks, float[] v, AttentionStrides vs, float[]? bias, AttentionStrides bs, float[] y) : IParallelJob
    {
        private int _next;

        public void Execute(int part)
        {
            var scores = ArrayPool<float>.Shared.Rent(Math.Max(1, Math.Max(s.QueryLength * s.KeyLength, blocked ? BlockedScratch(s) : 0)));
            try
            {
                fixed (float* pq = q, pk = k, pv = v, pb = bias, py = y, ps = scores)
                    for (int pair; (pair = Interlocked.Increment(ref _next) - 1) < s.Batch * s.Heads;)
                        Head(path, s, blocked, scale, pair / s.Heads, pair % s.Heads, pq, qs, pk, ks, pv, vs, pb, bs, py, ps);
            }
            finally { ArrayPool<float>.Shared.Return(scores); }
        }
    }

    // One (batch, head): scores = scale·Q·Kᵀ, each row masked and normalized in place, then Y = scores·V; keys past a padding
    // cut (AttentionHeads.Padding.cs) only when their weights are 0. With every key counting, a head that may run blocked does.
    private static void Head(KernelPath path, AttentionShape s, bool blocked, float scale, int b, int h, float* q, AttentionStrides qs, float* k,
        AttentionStrides ks, float* v, AttentionStrides vs, float* bias, AttentionStrides bs, float* y, float* scores)
    {
        int lq = s.QueryLength, lk = s.KeyLength;
        float* qh = q + b * qs.Batch + h * qs.Head, kh = k + b * ks.Batch + h * ks.Head, vh = v + b * vs.Batch + h * vs.Head;
        float* biasHead = bias is null ? null : bias + b * bs.Batch + h * bs.Head;
        int keys = bias is not null && bs.Row == 0 && bs.Column == 1 && lk > 0 ? PaddingCut(biasHead, lk) : lk;
        if (blocked && RunsBlocked(s, keys))
        {
            HeadBlocked(path, s, scale, b, h, q, qs, k, ks, v, vs, bias, bs, y, scores);
            return;
        }
        Gemm.Run(path, false, true, lq, keys, s.Width, scale, qh, (int)qs.Row, kh, (int)ks.Row, 0f, scores, keys);
        if (keys < lk && !TailVanishes(s, scale, qh, qs.Row, kh, ks.Row, biasHead, scores, keys))
        {
            keys = lk;
            Gemm.Run(path, false, true, lq, keys, s.Width, scale, qh, (int)qs.Row, kh, (int)ks.Row, 0f, scores, keys);
        }
        for (int i = 0; i < lq && keys > 0; i++)
        {
            var row = new Span<float>(scores + (long)i * keys, keys);
            float* biasRow = biasHead is null ? null : biasHead + i * bs.Row;
            if (path == KernelPath.Scalar) ReferenceRow(row, biasRow, bs.Column);
            else SoftmaxRow(path, row, biasRow, bs.Column);
        }
        Gemm.Run(path, false, false, lq, s.ValueWidth, keys, 1f, scores, keys, vh, (int)vs.Row, 0f,
            y + ((long)b * lq * s.Heads + h) * s.ValueWidth, s.Heads * s.ValueWidth);
    }

    /// <summary>The formula as plain loops in double, on the same strided operands: the reference the kernel is checked against.</summary>
    public static void Reference(AttentionShape s, float scale, float[] q, AttentionStrides qs, float[] k, AttentionStrides ks,
        float[] v, AttentionStrides vs, float[]? bias, AttentionStrides bs, float[] y)
    {
        var weights = new double[s.KeyLength];
        for (int b = 0; b < s.Batch; b++)
            for (int h = 0; h < s.Heads; h++)
                for (int i = 0; i < s.QueryLength; i++)
                {
                    double max = double.NegativeInfinity, sum = 0;
                    for (int j = 0; j < s.KeyLength; j++)
                    {
                        double dot = 0;
                        for (int c = 0; c < s.Width; c++)
                            dot += (double)q[b * qs.Batch + h * qs.Head + i * qs.Row + c] * k[b * ks.Batch + h * ks.Head + j * ks.Row + c];
                        weights[j] = scale * dot + (bias is null ? 0 : bias[b * bs.Batch + h * bs.Head + i * bs.Row + j * bs.Column]);
                        max = Math.Max(max, weights[j]);
                    }
                    for (int j = 0; j < s.KeyLength; j++) sum += weights[j] = Math.Exp(weights[j] - max);
                    for (int c = 0; c < s.ValueWidth; c++)
                    {
                        double acc = 0;
                        for (int j = 0; j < s.KeyLength; j++) acc += weights[j] / sum * v[b * vs.Batch + h * vs.Head + j * vs.Row + c];
                        y[((long)(b * s.QueryLength + i) * s.Heads + h) * s.ValueWidth + c] = (float)acc;
                    }
                }
    }
}
