// Matrix products on the GEMM kernel. Gemm follows ONNX: Y = α·op(A)·op(B) + β·C with C broadcast;
// Linear is Gemm with B = W stored (out × in), as PyTorch and ONNX exporters lay it out.
// Inference with a pruned weight (no gradients) uses the sparse kernel (Tensors/SparseInference.cs), with a dense one
// its weight packed once (Tensors/GemmWeightPacking.cs).
// Gradients (row-major, G = dY): d op(A) = α·G·op(B)ᵀ, d op(B) = α·op(A)ᵀ·G, dC = β·Σ_broadcast G.
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Sparse;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Matrix product with NumPy semantics (ONNX MatMul): a tensor of rank &gt; 2 on the left with a
    /// 2-D right operand is a stack of rows; 1-D operands and broadcast batch dimensions go to <see cref="BatchedMatMul"/>.</summary>
    public Tensor MatMul(Tensor other)
    {
        if (other.Rank != 2 && Rank >= 1 && other.Rank >= 1) return BatchedMatMul(other);
        if (other.Rank != 2 || Rank < 1)
            throw new CondenseException($"MatMul supports (…, K) × (K, N); got {Tensors.Shape.Format(Shape)} × {Tensors.Shape.Format(other.Shape)}");
        int k = Shape[^1];
        if (other.Shape[0] != k)
            throw new CondenseException($"MatMul shapes {Tensors.Shape.Format(Shape)} and {Tensors.Shape.Format(other.Shape)} do not match");
        var a2 = Rank == 2 ? this : Reshape(-1, k);
        var y = Gemm(a2, other, null);
        if (Rank == 2) return y;
        var outShape = Shape[..^1].Append(other.Shape[1]).ToArray();
        return y.Reshape(outShape);
    }

    /// <summary>y = x·Wᵀ + b for x (N × in), W (out × in), b (out) — a fully connected layer.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) => Gemm(x, weight, bias, transB: true);

    /// <summary>ONNX Gemm: α·op(A)·op(B) + β·C, with C broadcast to (M × N).</summary>
    public static Tensor Gemm(Tensor a, Tensor b, Tensor? c, float alpha = 1f, float beta = 1f, bool transA = false, bool transB = false) =>
        Gemm(a, b, c, alpha, beta, transA, transB, GemmActivation.None);

    /// <summary>
    /// ONNX Gemm followed by <paramref name="activation"/>: at inference the activation (and a bias C of one value per column)
    /// runs on each tile as the kernel finishes it (Kernels/FloatGemm/GemmEpilogue), the bits of the separate ops.
    /// </summary>
    internal static Tensor Gemm(Tensor a, Tensor b, Tensor? c, float alpha, float beta, bool transA, bool transB, GemmActivation activation)
    {
        if (activation != GemmActivation.None && Autograd.GradMode.Enabled && (a.RequiresGrad || b.RequiresGrad || c is { RequiresGrad: true }))
        {
            var linear = Gemm(a, b, c, alpha, beta, transA, transB);
            return activation == GemmActivation.Relu ? linear.Relu() : linear.Gelu();
        }
        if (a.Rank != 2 || b.Rank != 2)
            throw new CondenseException($"Gemm needs 2-D operands, got {Tensors.Shape.Format(a.Shape)} and {Tensors.Shape.Format(b.Shape)}");
        int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        int kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
            throw new CondenseException(
                $"Gemm inner dimensions differ: {Tensors.Shape.Format(a.Shape)}{(transA ? "ᵀ" : "")} × "
                + $"{Tensors.Shape.Format(b.Shape)}{(transB ? "ᵀ" : "")}");
        var y = Uninitialized(m, n);
        if (!Autograd.GradMode.Enabled && !transA && transB && alpha == 1f && (c is null || (beta == 1f && c.Size == n))
            && SparseInference.For(b, m) is { } sparse)
        {
            // Inference with a pruned weight: the sparse kernel, chosen by the weight's own sparsity.
            SparseGemm.LinearForward(sparse, a.Data, m, c is null ? [] : c.Data, y.Data);
            Kernels.FloatGemm.Gemm.Activate(y.Data, m, n, activation);
            return y;
        }
        float cBeta = 0f;
        // A bias of one value per column is added to each tile as it is finished (no pass over C beforehand).
        ReadOnlySpan<float> bias = c is not null && beta == 1f && c.Size == n && c.Rank <= 2 && c.Shape[^1] == n ? c.Data : default;
        if (c is not null && beta != 0f && bias.IsEmpty)
        {
            var cShape = Tensors.Shape.Broadcast(c.Shape, y.Shape);
            if (!Tensors.Shape.Equal(cShape, y.Shape))
                throw new CondenseException($"Gemm bias of shape {Tensors.Shape.Format(c.Shape)} does not broadcast to {Tensors.Shape.Format(y.Shape)}");
            FillBroadcast(c, y, beta);
            cBeta = 1f;
        }
        // A weight at inference (more than one row: one row takes the GEMV path) is packed once (GemmWeightPacking).
        if (m > 1 && GemmWeightPacking.For(b, transB) is { } packed)
            Kernels.FloatGemm.Gemm.Multiply(transA, m, alpha, a.Data, a.Shape[1], packed, cBeta, y.Data, n, bias, activation);
        else Kernels.FloatGemm.Gemm.Multiply(transA, transB, m, n, k, alpha, a.Data, a.Shape[1], b.Data, b.Shape[1], cBeta, y.Data, n, bias, activation);
        return Record(y, g => GemmBackward(a, b, c, alpha, beta, transA, transB, m, n, k, g), c is null ? [a, b] : [a, b, c]);
    }

    // y = beta · broadcast(c); the common bias case (c of shape [n] or [1, n]) copies rows.
    private static void FillBroadcast(Tensor c, Tensor y, float beta)
    {
        int n = y.Shape[1];
        if (c.Size == n)
        {
            for (int r = 0; r < y.Shape[0]; r++) c.Data.CopyTo(y.Data.AsSpan(r * n, n));
        }
        else Apply(BinaryOp.Add, c, Zeros(1), y);
        if (beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(y.Data, beta, y.Data);
    }

    private static void GemmBackward(Tensor a, Tensor b, Tensor? c, float alpha, float beta, bool transA, bool transB, int m, int n, int k, Tensor g)
    {
        var gd = g.Data;
        if (a.RequiresGrad)
        {
            var (buf, bt) = a.GradTarget();
            if (!transA) // dA (M×K) = α·G·op(B)ᵀ
                Kernels.FloatGemm.Gemm.Multiply(false, !transB, m, k, n, alpha, gd, n, b.Data, b.Shape[1], bt, buf, k);
            else         // dA (K×M) = α·op(B)·Gᵀ
                Kernels.FloatGemm.Gemm.Multiply(transB, true, k, m, n, alpha, b.Data, b.Shape[1], gd, n, bt, buf, m);
        }
        if (b.RequiresGrad)
        {
            var (buf, bt) = b.GradTarget();
            if (!transB) // dB (K×N) = α·op(A)ᵀ·G
                Kernels.FloatGemm.Gemm.Multiply(!transA, false, k, n, m, alpha, a.Data, a.Shape[1], gd, n, bt, buf, n);
            else         // dB (N×K) = α·Gᵀ·op(A)
                Kernels.FloatGemm.Gemm.Multiply(true, transA, n, k, m, alpha, gd, n, a.Data, a.Shape[1], bt, buf, k);
        }
        if (c is not null && c.RequiresGrad)
        {
            var (buf, bt) = c.GradTarget();
            if (bt == 0f) Array.Clear(buf);
            if (beta == 1f) Broadcast.SumInto(gd, g.Shape, c.Shape, buf);
            else
            {
                var scaled = new float[gd.Length];
                System.Numerics.Tensors.TensorPrimitives.Multiply(gd, beta, scaled);
                Broadcast.SumInto(scaled, g.Shape, c.Shape, buf);
            }
        }
    }
}
