// Multi-head scaled dot-product attention (Vaswani et al. 2017, "Attention is all you need", eq. 1) on the head-split
// layout a transformer's projections are reshaped to, [batch, length, heads, width], without transposing it: for each
// (batch, head) Y = softmax(scale·Q·Kᵀ + bias)·V, where Q, K and V are strided views (a row every heads·width floats)
// and Y is written straight into [batch, query length, heads, value width]. BERT-style exports write this as
// Transpose(Q), Transpose(K), MatMul, Div, Add(mask), Softmax, Transpose(V), MatMul, Transpose — five passes over the
// [batch, heads, L, L] scores and four copies of the activations; here the L×L scores of one head live in a scratch
// buffer in cache, the scale is the GEMM's alpha, and the additive mask (any shape that broadcasts to [batch, heads,
// Lq, Lk], by strides, 0 where broadcast) joins the softmax, whose exponentials are ExpKernel's; trailing padded keys
// whose weights are exactly 0 are skipped (AttentionHeads.Padding.cs). ONNX Runtime's fused Attention and
// MultiHeadAttention kernels work the same way. The products are Kernels/FloatGemm's (transB for Kᵀ); threads claim
// (batch, head) pairs one at a time, each computed by one thread, so the bits do not depend on the thread count.
// The reference is a plain loop in double; the Scalar path sums its softmax in double as well.
using System.Buffers;
using System.Runtime.Intrinsics;
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
        var job = new HeadsJob(Cpu.Active, s, scale, q, qs, k, ks, v, vs, bias, bs, y);
        if (parts <= 1) job.Execute(0);
        else WorkerPool.Run(job, parts);
    }

    // Each part claims the next (batch, head) until none is left, so a thread the OS delays holds up one head at most.
    private sealed class HeadsJob(KernelPath path, AttentionShape s, float scale, float[] q, AttentionStrides qs, float[] k, AttentionStrides ks,
        float[] v, AttentionStrides vs, float[]? bias, AttentionStrides bs, float[] y) : IParallelJob
    {
        private int _next;

        public void Execute(int part)
        {
            var scores = ArrayPool<float>.Shared.Rent(Math.Max(1, s.QueryLength * s.KeyLength));
            try
            {
                fixed (float* pq = q, pk = k, pv = v, pb = bias, py = y, ps = scores)
                    for (int pair; (pair = Interlocked.Increment(ref _next) - 1) < s.Batch * s.Heads;)
                        Head(path, s, scale, pair / s.Heads, pair % s.Heads, pq, qs, pk, ks, pv, vs, pb, bs, py, ps);
            }
            finally { ArrayPool<float>.Shared.Return(scores); }
        }
    }

    // One (batch, head): scores = scale·Q·Kᵀ, each row masked and normalized in place, then Y = scores·V; keys past a padding
    // cut (AttentionHeads.Padding.cs) only when their weights are 0.
    private static void Head(KernelPath path, AttentionShape s, float scale, int b, int h, float* q, AttentionStrides qs, float* k,
        AttentionStrides ks, float* v, AttentionStrides vs, float* bias, AttentionStrides bs, float* y, float* scores)
    {
        int lq = s.QueryLength, lk = s.KeyLength;
        float* qh = q + b * qs.Batch + h * qs.Head, kh = k + b * ks.Batch + h * ks.Head, vh = v + b * vs.Batch + h * vs.Head;
        float* biasHead = bias is null ? null : bias + b * bs.Batch + h * bs.Head;
        int keys = bias is not null && bs.Row == 0 && bs.Column == 1 && lk > 0 ? PaddingCut(biasHead, lk) : lk;
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

    // row = softmax(row + bias) in three passes over the row in L1 — the bias added (a row, column stride 1, or one value,
    // stride 0) and the maximum found; e^(x − max) on ExpKernel's lanes and its sum; the division — written out on
    // vectors, since a row is short (L = 128: 8 vectors) and a span primitive's call costs as much as its work there.
    private static void SoftmaxRow(KernelPath path, Span<float> row, float* bias, long biasColumn)
    {
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated) SoftmaxRow512(row, bias, biasColumn);
        else SoftmaxRow256(row, bias, biasColumn);
    }

    private static void SoftmaxRow512(Span<float> row, float* bias, long biasColumn)
    {
        int n = row.Length, vectorEnd = n / 16 * 16, j;
        fixed (float* x = row)
        {
            float max = float.NegativeInfinity, sum = 0f;
            var maxima = Vector512.Create(float.NegativeInfinity);
            for (j = 0; j < vectorEnd; j += 16)
            {
                var v = Vector512.Load(x + j);
                if (bias is not null) v += biasColumn == 0 ? Vector512.Create(*bias) : Vector512.Load(bias + j);
                v.Store(x + j);
                maxima = Vector512.Max(maxima, v);
            }
            for (; j < n; j++) max = Math.Max(max, x[j] += bias is null ? 0f : bias[j * biasColumn]);
            max = Math.Max(max, Max(Vector256.Max(maxima.GetLower(), maxima.GetUpper())));
            var sums = Vector512<float>.Zero;
            for (j = 0; j < vectorEnd; j += 16)
            {
                var e = ExpKernel.Exp(Vector512.Load(x + j) - Vector512.Create(max));
                e.Store(x + j);
                sums += e;
            }
            sum = Vector512.Sum(sums);
            for (; j < n; j++) sum += x[j] = ExpKernel.Exp(x[j] - max);
            float inverse = 1f / sum;
            for (j = 0; j < vectorEnd; j += 16) (Vector512.Load(x + j) * inverse).Store(x + j);
            for (; j < n; j++) x[j] *= inverse;
        }
    }

    private static void SoftmaxRow256(Span<float> row, float* bias, long biasColumn)
    {
        int n = row.Length, vectorEnd = n / 8 * 8, j;
        fixed (float* x = row)
        {
            float max = float.NegativeInfinity, sum = 0f;
            var maxima = Vector256.Create(float.NegativeInfinity);
            for (j = 0; j < vectorEnd; j += 8)
            {
                var v = Vector256.Load(x + j);
                if (bias is not null) v += biasColumn == 0 ? Vector256.Create(*bias) : Vector256.Load(bias + j);
                v.Store(x + j);
                maxima = Vector256.Max(maxima, v);
            }
            for (; j < n; j++) max = Math.Max(max, x[j] += bias is null ? 0f : bias[j * biasColumn]);
            max = Math.Max(max, Max(maxima));
            var sums = Vector256<float>.Zero;
            for (j = 0; j < vectorEnd; j += 8)
            {
                var e = ExpKernel.Exp(Vector256.Load(x + j) - Vector256.Create(max));
                e.Store(x + j);
                sums += e;
            }
            sum = Vector256.Sum(sums);
            for (; j < n; j++) sum += x[j] = ExpKernel.Exp(x[j] - max);
            float inverse = 1f / sum;
            for (j = 0; j < vectorEnd; j += 8) (Vector256.Load(x + j) * inverse).Store(x + j);
            for (; j < n; j++) x[j] *= inverse;
        }
    }

    // The largest lane (NaN when a lane is NaN, as Math.Max).
    private static float Max(Vector256<float> v)
    {
        float max = v[0];
        for (int i = 1; i < 8; i++) max = Math.Max(max, v[i]);
        return max;
    }

    // The softmax with its sum in double: the Scalar path's row.
    private static void ReferenceRow(Span<float> row, float* bias, long biasColumn)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < row.Length; j++)
        {
            if (bias is not null) row[j] += bias[j * biasColumn];
            max = Math.Max(max, row[j]);
        }
        double sum = 0;
        for (int j = 0; j < row.Length; j++) sum += row[j] = MathF.Exp(row[j] - max);
        for (int j = 0; j < row.Length; j++) row[j] = (float)(row[j] / sum);
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
