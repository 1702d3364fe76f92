// The fused attention kernel (softmax(scale·Q·Kᵀ + bias)·V per head on the [batch, length, heads, width] layout) against
// its plain double loop on every kernel path: odd lengths and widths (GEMM and vector tails), a query length other than
// the key length, a value width other than the key width, K and V broadcast over the batch, biases of every broadcast
// form a transformer uses (padding [B, 1, 1, Lk], causal [Lq, Lk], full, one value, none) with −∞ entries, trailing
// padded keys (skipped when their weights vanish, computed when a mild bias leaves them weight), heads split
// between threads (same bits on one thread), and a head too large to share out; heads run a block of query rows at a time
// give the bits of the two GEMMs and the softmax between them. Also the float-lane exp the softmax and
// erf use (ExpKernel) against Math.Exp, and the residual layer norm (LayerNormRows with skip) against the reference
// norm of x + skip.
using System.Runtime.Intrinsics;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;
using Condense.Tensors;
using static Condense.Tests.Kernels.TransformerKernelsTests;

namespace Condense.Tests.Kernels;

public class AttentionHeadsTests
{
    public static TheoryData<KernelPath, int, int, int, int, string> Cases()
    {
        var data = new TheoryData<KernelPath, int, int, int, int, string>();
        foreach (var path in Cpu.SupportedPaths)
        {
            data.Add(path, 1, 1, 1, 1, "none");
            data.Add(path, 2, 7, 7, 5, "padding");
            data.Add(path, 3, 13, 13, 32, "causal");
            data.Add(path, 2, 5, 19, 17, "full");
            data.Add(path, 1, 37, 37, 8, "scalar");
            data.Add(path, 2, 9, 9, 3, "broadcast keys");
            data.Add(path, 1, 3, 300, 40, "padding");
            data.Add(path, 4, 9, 23, 16, "trailing");
            data.Add(path, 3, 6, 40, 8, "trailing −∞");
            data.Add(path, 2, 5, 21, 8, "mild trailing");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesThePlainLoop(KernelPath path, int batch, int queries, int keys, int width, string bias)
    {
        const int heads = 3;
        int valueWidth = width + 2;
        int keyBatch = bias == "broadcast keys" ? 1 : batch;
        // Large scores against a mild padding bias: the padded keys still carry weight, and are computed.
        float spread = bias == "mild trailing" ? 30f : 1f;
        var q = Tensor.Uniform(new Rng(1), -spread, spread, batch * queries * heads * width).Data;
        var k = Tensor.Uniform(new Rng(2), -spread, spread, keyBatch * keys * heads * width).Data;
        var v = Tensor.Uniform(new Rng(3), -2f, 2f, keyBatch * keys * heads * valueWidth).Data;
        var (biasData, biasStrides) = Bias(bias, batch, heads, queries, keys);
        var shape = new AttentionShape(batch, heads, queries, keys, width, valueWidth);
        AttentionStrides Strides(int n, int length, int w) => new(n == 1 ? 0 : (long)length * heads * w, w, heads * w, 1);
        var (qs, ks, vs) = (Strides(batch, queries, width), Strides(keyBatch, keys, width), Strides(keyBatch, keys, valueWidth));
        float scale = 1f / MathF.Sqrt(width);
        var expected = new float[batch * queries * heads * valueWidth];
        AttentionHeads.Reference(shape, scale, q, qs, k, ks, v, vs, biasData, biasStrides, expected);
        using (Cpu.Force(path))
        {
            float[] Run() { var y = new float[expected.Length]; AttentionHeads.Forward(shape, scale, q, qs, k, ks, v, vs, biasData, biasStrides, y); return y; }
            var two = WithThreads(2, Run);
            Assert.Equal(WithThreads(1, Run), two);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], two[i], 2e-5 * Math.Max(1, Math.Abs(expected[i])));
        }
    }

    [Theory]
    [MemberData(nameof(Paths), MemberType = typeof(TransformerKernelsTests))]
    public void AHeadTooLargeToShareOutMatches(KernelPath path)
    {
        // 2·300·300·(40 + 40) flops per head: over the threshold, the heads run in order and each GEMM splits itself.
        MatchesThePlainLoop(path, 1, 300, 300, 40, "causal");
    }

    [Theory]
    [MemberData(nameof(Paths), MemberType = typeof(TransformerKernelsTests))]
    public unsafe void BlockedHeadsGiveTheBitsOfTheTwoProducts(KernelPath path)
    {
        // A head one thread runs whole, every key counting, runs a block of query rows at a time (AttentionHeads.Blocked.cs):
        // its bits are those of scores = scale·Q·Kᵀ by the GEMM, the softmax of each row, then scores·V by the GEMM.
        const int batch = 2, heads = 3, queries = 29, keys = 37, width = 20, valueWidth = 35;
        var q = Tensor.Uniform(new Rng(1), -2f, 2f, batch * queries * heads * width).Data;
        var k = Tensor.Uniform(new Rng(2), -2f, 2f, batch * keys * heads * width).Data;
        var v = Tensor.Uniform(new Rng(3), -2f, 2f, batch * keys * heads * valueWidth).Data;
        var bias = Tensor.Uniform(new Rng(4), -3f, 0f, queries * keys).Data;   // causal-like: one row per query, no padding cut
        var shape = new AttentionShape(batch, heads, queries, keys, width, valueWidth);
        AttentionStrides Strides(int length, int w) => new((long)length * heads * w, w, heads * w, 1);
        var biasStrides = new AttentionStrides(0, 0, keys, 1);
        const float scale = 0.3f;
        using var _ = Cpu.Force(path);
        var y = new float[batch * queries * heads * valueWidth];
        AttentionHeads.Forward(shape, scale, q, Strides(queries, width), k, Strides(keys, width), v, Strides(keys, valueWidth), bias, biasStrides, y);
        var scores = new float[queries * keys];
        var expected = new float[y.Length];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
            {
                int qAt = (b * queries * heads + h) * width, kAt = (b * keys * heads + h) * width, vAt = (b * keys * heads + h) * valueWidth;
                Gemm.Multiply(false, true, queries, keys, width, scale, q.AsSpan(qAt), heads * width, k.AsSpan(kAt), heads * width, 0f, scores, keys);
                fixed (float* pb = bias)
                    for (int i = 0; i < queries; i++)
                        if (path == KernelPath.Scalar) AttentionHeads.ReferenceRow(scores.AsSpan(i * keys, keys), pb + i * keys, 1);
                        else AttentionHeads.SoftmaxRow(path, scores.AsSpan(i * keys, keys), pb + i * keys, 1);
                Gemm.Multiply(false, false, queries, valueWidth, keys, 1f, scores, keys, v.AsSpan(vAt), heads * valueWidth, 0f,
                    expected.AsSpan((b * queries * heads + h) * valueWidth), heads * valueWidth);
            }
        Assert.Equal(expected, y);
    }

    [Theory]
    [InlineData(1f, -1e4f, true)]
    [InlineData(1f, float.NegativeInfinity, true)]
    [InlineData(30f, -100f, false)]
    public unsafe void PaddedKeysAreSkippedOnlyWhenTheirWeightsVanish(float spread, float padded, bool skipped)
    {
        const int queries = 5, keys = 12, width = 8, valid = 7;
        var q = Tensor.Uniform(new Rng(1), -spread, spread, queries * width).Data;
        var k = Tensor.Uniform(new Rng(2), -spread, spread, keys * width).Data;
        var bias = Enumerable.Range(0, keys).Select(j => j < valid ? 0f : padded).ToArray();
        var scores = new float[queries * valid];
        for (int i = 0; i < queries; i++)
            for (int j = 0; j < valid; j++)
                for (int c = 0; c < width; c++) scores[i * valid + j] += 0.5f * q[i * width + c] * k[j * width + c];
        fixed (float* pq = q, pk = k, pb = bias, ps = scores)
        {
            Assert.Equal(valid, AttentionHeads.PaddingCut(pb, keys));
            var shape = new AttentionShape(1, 1, queries, keys, width, width);
            Assert.Equal(skipped, AttentionHeads.TailVanishes(shape, 0.5f, pq, width, pk, width, pb, ps, valid));
        }
        var unpadded = new float[keys];
        fixed (float* pb = unpadded) Assert.Equal(keys, AttentionHeads.PaddingCut(pb, keys));
    }

    // A bias of the named broadcast form, with a −∞ entry in every row but the first key position.
    private static (float[]? Data, AttentionStrides Strides) Bias(string form, int batch, int heads, int queries, int keys)
    {
        var rng = new Rng(4);
        float Entry(int j) => j > 0 && j % 5 == 4 ? float.NegativeInfinity : -3f * rng.NextFloat();
        switch (form)
        {
            case "padding" or "broadcast keys":
                return (Enumerable.Range(0, batch * keys).Select(i => Entry(i % keys)).ToArray(), new AttentionStrides(keys, 0, 0, 1));
            case "trailing" or "trailing −∞" or "mild trailing":
                // Sequence b has its last 3·b keys padded, one key left at least.
                float padded = form == "trailing" ? -1e4f : form == "mild trailing" ? -100f : float.NegativeInfinity;
                return (Enumerable.Range(0, batch * keys).Select(i => i % keys < Math.Max(1, keys - 3 * (i / keys)) ? 0f : padded).ToArray(),
                    new AttentionStrides(keys, 0, 0, 1));
            case "causal":
                return (Enumerable.Range(0, queries * keys).Select(i => i % keys > i / keys ? -1e4f : 0f).ToArray(), new AttentionStrides(0, 0, keys, 1));
            case "full":
                return (Enumerable.Range(0, batch * heads * queries * keys).Select(i => Entry(i % keys)).ToArray(),
                    new AttentionStrides((long)heads * queries * keys, (long)queries * keys, keys, 1));
            case "scalar":
                return ([0.5f], new AttentionStrides(0, 0, 0, 0));
            default:
                return (null, default);
        }
    }

    [Fact]
    public void ExpMatchesTheDoubleExpOnEveryLaneWidth()
    {
        var x = Tensor.Uniform(new Rng(9), -95f, 89f, 4096).Data
            .Concat([0f, -0f, 1f, -1e-8f, ExpKernel.Low + 1e-3f, ExpKernel.High, -88f, -1e4f, float.NegativeInfinity, float.NaN]).ToArray();
        x = [.. x, .. new float[16 - x.Length % 16]];
        var wide = new float[x.Length];
        var narrow = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16)
        {
            ExpKernel.Exp(Vector512.Create(x.AsSpan(i, 16))).CopyTo(wide.AsSpan(i, 16));
            ExpKernel.Exp(Vector256.Create(x.AsSpan(i, 8))).CopyTo(narrow.AsSpan(i, 8));
            ExpKernel.Exp(Vector256.Create(x.AsSpan(i + 8, 8))).CopyTo(narrow.AsSpan(i + 8, 8));
        }
        for (int i = 0; i < x.Length; i++)
        {
            float one = ExpKernel.Exp(x[i]);
            Assert.Equal(one, wide[i]);
            Assert.Equal(one, narrow[i]);
            double expected = Math.Exp(x[i]);
            if (float.IsNaN(x[i])) Assert.True(float.IsNaN(one));
            else if (x[i] < ExpKernel.Low) Assert.Equal(0f, one);
            else if (x[i] > ExpKernel.High) Assert.Equal(float.PositiveInfinity, one);
            else Assert.True(Math.Abs(one - expected) <= 2.5e-7 * expected, $"e^{x[i]}: {one} vs {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Lengths), MemberType = typeof(TransformerKernelsTests))]
    public void LayerNormOfTheSumMatchesTheReference(KernelPath path, int width)
    {
        int rows = width > 1000 ? 3 : 11;
        var x = Tensor.Uniform(new Rng(5), -3f, 4f, rows * width).Data;
        var skip = Tensor.Uniform(new Rng(6), -2f, 2f, rows * width).Data;
        var scale = Tensor.Uniform(new Rng(7), 0.5f, 1.5f, width).Data;
        var bias = Tensor.Uniform(new Rng(8), -1f, 1f, width).Data;
        var expected = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            var sum = x.AsSpan(r * width, width).ToArray();
            for (int i = 0; i < width; i++) sum[i] += skip[r * width + i];
            LayerNormRows.Reference(sum, expected.AsSpan(r * width, width), scale, bias, 1e-5f);
        }
        using (Cpu.Force(path))
        {
            float[] Run() { var y = new float[x.Length]; LayerNormRows.Forward(x, y, rows, scale, bias, 1e-5f, skip); return y; }
            var two = WithThreads(2, Run);
            Assert.Equal(WithThreads(1, Run), two);
            for (int i = 0; i < x.Length; i++) Assert.Equal(expected[i], two[i], 2e-5 * Math.Max(1, Math.Abs(expected[i])));
        }
    }
}
