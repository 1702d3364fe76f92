// What the blocked GEMM does to a tile of C after the micro-kernel has written it, while the tile is still in L1: add a bias per
// column after the first K block, apply an activation after the last (MLAS's and oneDNN's GEMM "post-ops"). A Linear layer
// otherwise fills C with its bias before the product (a pass over the output on one thread) and runs its ReLU or GELU as a
// second pass over the output; here both happen per tile, on the threads computing it. The bits are those of the separate
// passes: the bias joins as one rounded addition (the unfused fill gives fma(bias, 1, alpha·acc), the same sum), ReLU is
// max(x, 0) as TensorPrimitives.Max (NaN stays NaN, −0 becomes +0), GELU is GeluKernel's lane formula on every element,
// ragged row ends included (through a padded copy), and its double-precision reference on the Scalar path, as GeluKernel.
// A convolution as a GEMM (Kernels/Conv/Conv2dGemm: C = W · image, a row per output channel) has the other form: a bias per
// row after the first K block, then after the last the residual of a fused Conv → Add (same layout as C), then the clamp
// of a Relu or Clip (max with the lower bound, then min with the upper, as the separate ops), so the output is written once.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;
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

/// <summary>The bias (per column of C, or null) and the activation applied to each finished tile; or a convolution's row form.</summary>
internal readonly unsafe struct GemmEpilogue(float* bias, GemmActivation activation)
{
    /// <summary>The bias of column j at <c>Bias[j]</c>, or null.</summary>
    public float* Bias { get; } = bias;

    /// <summary>The activation after the last K block.</summary>
    public GemmActivation Activation { get; } = activation;

    /// <summary>The bias of row i at <c>RowBias[i]</c>, or null (the convolution form).</summary>
    public float* RowBias { get; private init; }

    /// <summary>C[i, j] += Residual[i·ldc + j] after the last K block, or null (the convolution form).</summary>
    public float* Residual { get; private init; }

    /// <summary>After the residual: the clamp of a Relu or Clip (the convolution form).</summary>
    public VectorClamp Clamp { get; private init; }

    // Set by Convolution only: default(GemmEpilogue) is the "nothing to do" of callers.
    private bool ConvolutionForm { get; init; }

    /// <summary>True for a convolution's epilogue (row bias, residual, clamp), false for the bias per column and activation.</summary>
    public bool IsConvolutionForm => ConvolutionForm;

    /// <summary>True when there is nothing to do.</summary>
    public bool IsEmpty => Bias == null && Activation == GemmActivation.None && !ConvolutionForm;

    /// <summary>The bias of column j at <c>ColumnBias[j]</c>, or null (the convolution form over channels-last pixels).</summary>
    public float* ColumnBias { get; private init; }

    /// <summary>A convolution's epilogue: + rowBias[i] (null: none), + residual (null: none), then <paramref name="clamp"/>.</summary>
    public static GemmEpilogue Convolution(float* rowBias, float* residual, VectorClamp clamp) =>
        new(null, GemmActivation.None)
        {
            RowBias = rowBias, Residual = residual, Clamp = clamp,
            ConvolutionForm = rowBias != null || residual != null || !clamp.IsEmpty,
        };

    /// <summary>
    /// The convolution form for a product over channels-last pixels (a row per pixel, a column per output channel):
    /// + columnBias[j] (null: none), + residual (null: none), then <paramref name="clamp"/>.
    /// </summary>
    public static GemmEpilogue ChannelsLast(float* columnBias, float* residual, VectorClamp clamp) =>
        new(null, GemmActivation.None)
        {
            ColumnBias = columnBias, Residual = residual, Clamp = clamp,
            ConvolutionForm = columnBias != null || residual != null || !clamp.IsEmpty,
        };

    /// <summary>
    /// Finishes rows × cols of C at <paramref name="c"/> (row stride <paramref name="ldc"/>), whose first element is
    /// (<paramref name="row0"/>, <paramref name="column0"/>) of C: adds the bias when <paramref name="first"/> (the tile's
    /// first K block has just been written), then applies the activation when <paramref name="last"/> (its last).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(KernelPath path, float* c, int ldc, int rows, int cols, int row0, int column0, bool first, bool last)
    {
        if (ConvolutionForm) { ApplyConvolution(c, ldc, rows, cols, row0, column0, first, last); return; }
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

    /// <summary>The column form on one vector: + the bias at <paramref name="bias"/> (null: none), then the activation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Finish(Vector512<float> v, float* bias, GemmActivation activation)
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

    // The convolution form, row by row: + bias (per row or per column), + residual, then the clamp, in this order.
    private void ApplyConvolution(float* c, int ldc, int rows, int cols, int row0, int column0, bool first, bool last)
    {
        var clamp = last ? Clamp : default;
        float* residual = last && Residual != null ? Residual + (long)row0 * ldc + column0 : null;
        float* rowBias = first && RowBias != null ? RowBias + row0 : null;
        float* columnBias = first && ColumnBias != null ? ColumnBias + column0 : null;
        if (rowBias == null && columnBias == null && residual == null && clamp.IsEmpty) return;
        for (int i = 0; i < rows; i++)
        {
            float* row = c + (long)i * ldc, add = residual == null ? null : residual + (long)i * ldc;
            var bias = Vector256.Create(rowBias == null ? 0f : rowBias[i]);
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= cols; j += 8)
                {
                    var v = Vector256.Load(row + j);
                    if (rowBias != null) v += bias;
                    if (columnBias != null) v += Vector256.Load(columnBias + j);
                    if (add != null) v += Vector256.Load(add + j);
                    clamp.Apply(v).Store(row + j);
                }
            for (; j < cols; j++)
            {
                float v = row[j];
                if (rowBias != null) v += rowBias[i];
                if (columnBias != null) v += columnBias[j];
                if (add != null) v += add[j];
                row[j] = clamp.Apply(v);
            }
        }
    }
}
