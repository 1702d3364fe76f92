// What the blocked GEMM does to a tile of C after the micro-kernel has written it, while the tile is still in L1: add a bias per
// column after the first K block, apply an activation after the last (MLAS's and oneDNN's GEMM "post-ops"). A Linear layer
// otherwise fills C with its bias before the product (a pass over the output on one thread) and runs its ReLU or GELU as a
// second pass over the output; here both happen per tile, on the threads computing it. The bits are those of the separate
// passes: the bias joins as one rounded addition (the unfused fill gives fma(bias, 1, alpha·acc), the same sum), ReLU is
// max(x, 0) as TensorPrimitives.Max (NaN stays NaN, −0 becomes +0), GELU is GeluKernel's lane formula on every element,
// ragged row ends included (through a padded copy), and its double-precision reference on the Scalar path, as GeluKernel.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;
using Condense.Kernels.Transformer;

namespace Condense.Kernels.FloatGemm;

/// <summary>An activation the GEMM applies to C as it finishes each tile.</summary>
public enum GemmActivation
{
    /// <summary>None: C is the product (plus the bias).</summary>
    None,

    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>The exact GELU, x·½(1 + erf(x/√2)) (ONNX Gelu with approximate "none").</summary>
    Gelu,
}

/// <summary>The bias (per column of C, or null) and the activation applied to each finished tile.</summary>
internal readonly unsafe struct GemmEpilogue(float* bias, GemmActivation activation)
{
    /// <summary>The bias of column j at <c>Bias[j]</c>, or null.</summary>
    public float* Bias { get; } = bias;

    /// <summary>The activation after the last K block.</summary>
    public GemmActivation Activation { get; } = activation;

    /// <summary>True when there is nothing to do.</summary>
    public bool IsEmpty => Bias == null && Activation == GemmActivation.None;

    /// <summary>
    /// Finishes rows × cols of C at <paramref name="c"/> (row stride <paramref name="ldc"/>), whose first column is column
    /// <paramref name="column0"/> of C: adds the bias when <paramref name="first"/> (the tile's first K block has just been
    /// written), then applies the activation when <paramref name="last"/> (its last).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(KernelPath path, float* c, int ldc, int rows, int cols, int column0, bool first, bool last)
    {
        float* bias = first && Bias != null ? Bias + column0 : null;
        var activation = last ? Activation : GemmActivation.None;
        if (bias == null && activation == GemmActivation.None) return;
        for (int i = 0; i < rows; i++)
        {
            float* row = c + (long)i * ldc;
            if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated) Row512(row, cols, bias, activation);
            else if (path != KernelPath.Scalar && Vector256.IsHardwareAccelerated) Row256(row, cols, bias, activation);
            else RowScalar(row, cols, bias, activation);
        }
    }

    private static void Row512(float* row, int cols, float* bias, GemmActivation activation)
    {
        int j = 0;
        for (; j + 16 <= cols; j += 16)
            Finish(Vector512.Load(row + j), bias == null ? null : bias + j, activation).Store(row + j);
        if (j == cols) return;
        // The ragged end through a padded copy, so that it gets the lanes' formula too.
        float* padded = stackalloc float[16];
        float* paddedBias = stackalloc float[16];
        new Span<float>(padded, 16).Clear();
        new Span<float>(paddedBias, 16).Clear();
        Unsafe.CopyBlockUnaligned(padded, row + j, (uint)((cols - j) * sizeof(float)));
        if (bias != null) Unsafe.CopyBlockUnaligned(paddedBias, bias + j, (uint)((cols - j) * sizeof(float)));
        Finish(Vector512.Load(padded), bias == null ? null : paddedBias, activation).Store(padded);
        Unsafe.CopyBlockUnaligned(row + j, padded, (uint)((cols - j) * sizeof(float)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Finish(Vector512<float> v, float* bias, GemmActivation activation)
    {
        if (bias != null) v += Vector512.Load(bias);
        return activation switch
        {
            GemmActivation.Relu => Vector512.Max(v, Vector512<float>.Zero),
            GemmActivation.Gelu => GeluKernel.Gelu(v),
            _ => v,
        };
    }

    private static void Row256(float* row, int cols, float* bias, GemmActivation activation)
    {
        int j = 0;
        for (; j + 8 <= cols; j += 8)
            Finish(Vector256.Load(row + j), bias == null ? null : bias + j, activation).Store(row + j);
        if (j == cols) return;
        float* padded = stackalloc float[8];
        float* paddedBias = stackalloc float[8];
        new Span<float>(padded, 8).Clear();
        new Span<float>(paddedBias, 8).Clear();
        Unsafe.CopyBlockUnaligned(padded, row + j, (uint)((cols - j) * sizeof(float)));
        if (bias != null) Unsafe.CopyBlockUnaligned(paddedBias, bias + j, (uint)((cols - j) * sizeof(float)));
        Finish(Vector256.Load(padded), bias == null ? null : paddedBias, activation).Store(padded);
        Unsafe.CopyBlockUnaligned(row + j, padded, (uint)((cols - j) * sizeof(float)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(Vector256<float> v, float* bias, GemmActivation activation)
    {
        if (bias != null) v += Vector256.Load(bias);
        return activation switch
        {
            GemmActivation.Relu => Vector256.Max(v, Vector256<float>.Zero),
            GemmActivation.Gelu => GeluKernel.Gelu(v),
            _ => v,
        };
    }

    private static void RowScalar(float* row, int cols, float* bias, GemmActivation activation)
    {
        for (int j = 0; j < cols; j++)
        {
            float v = bias == null ? row[j] : row[j] + bias[j];
            row[j] = activation switch
            {
                GemmActivation.Relu => MathF.Max(v, 0f),
                GemmActivation.Gelu => GeluKernel.Reference(v),
                _ => v,
            };
        }
    }
}
