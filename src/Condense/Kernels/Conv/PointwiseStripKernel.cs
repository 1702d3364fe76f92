// The AVX2 tile of a 1×1 convolution run strip by strip (Conv2dGemm.Strips.cs): up to six output channels × 16 pixels in
// twelve ymm accumulators, the weights from a panel (the six channels' weights for each input channel side by side, packed
// once per model: one stream instead of six rows, which matters most when the weights come cold from memory, as in a whole
// network) and the 16 pixels from a strip of the image copied contiguous (K rows of 16), the GEMM micro-kernel's shape and
// sums (GemmKernelAvx2). What differs from the GEMM
// is the end: the bias, the residual and the clamp are applied to the accumulators before the one store, where the GEMM
// stores the tile and its epilogue reads it back — for MobileNetV2's 1×1 layers over 16–144 channels that second pass
// cost as much as a third of the layer (measured, see Conv2dGemm.Strips.cs).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Elementwise;

namespace Condense.Kernels.Conv;

/// <summary>rows × 16 outputs of a 1×1 convolution from a packed strip, with the epilogue in registers (AVX2 + FMA).</summary>
internal static unsafe class PointwiseStripKernel
{
    /// <summary>Pixels per strip (two ymm).</summary>
    public const int Width = 16;

    /// <summary>Output channels per tile.</summary>
    public const int MaxRows = 6;

    /// <summary>Floats of the packed weight of <paramref name="m"/> channels over <paramref name="k"/> inputs (whole panels).</summary>
    public static long PackedLength(int m, int k) => (long)(m + MaxRows - 1) / MaxRows * MaxRows * k;

    /// <summary>
    /// packed[panel·6·k + p·6 + r] = w[(panel·6 + r)·k + p], zero past the last channel: the panels <see cref="Run"/> reads.
    /// </summary>
    public static void Pack(ReadOnlySpan<float> w, int m, int k, Span<float> packed)
    {
        for (int panel = 0; panel * MaxRows < m; panel++)
        {
            var to = packed.Slice(panel * MaxRows * k, MaxRows * k);
            for (int r = 0; r < MaxRows; r++)
            {
                int channel = panel * MaxRows + r;
                for (int p = 0; p < k; p++) to[p * MaxRows + r] = channel < m ? w[channel * k + p] : 0f;
            }
        }
    }

    /// <summary>
    /// y[i·ldy + j] = clamp(Σ_p panel[p·6 + i]·strip[p·16 + j] + bias[i] + residual[i·ldy + j]) for i &lt; rows ≤ 6, j &lt; 16, the
    /// sum in order p = 0..k−1 from zero, then the bias (null: none), then the residual (null: none), then the clamp.
    /// </summary>
    public static void Run(int rows, int k, float* panel, float* strip, float* y, int ldy, float* bias, float* residual, in VectorClamp clamp)
    {
        switch (rows)
        {
            case 6: Rows<Rows6>(k, panel, strip, y, ldy, bias, residual, clamp); break;
            case 5: Rows<Rows5>(k, panel, strip, y, ldy, bias, residual, clamp); break;
            case 4: Rows<Rows4>(k, panel, strip, y, ldy, bias, residual, clamp); break;
            case 3: Rows<Rows3>(k, panel, strip, y, ldy, bias, residual, clamp); break;
            case 2: Rows<Rows2>(k, panel, strip, y, ldy, bias, residual, clamp); break;
            default: Rows<Rows1>(k, panel, strip, y, ldy, bias, residual, clamp); break;
        }
    }

    // The JIT compiles one body per row count, the row tests folded away.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TRows>(int k, float* a, float* strip, float* y, int ldy, float* bias, float* residual, in VectorClamp clamp)
        where TRows : struct, IRows
    {
        int r = TRows.Count;
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default,
            c4a = default, c4b = default, c5a = default, c5b = default;
        float* b = strip;
        for (int p = 0; p < k; p++, a += MaxRows, b += Width)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]);
            c0a = Vector256.FusedMultiplyAdd(x, b0, c0a); c0b = Vector256.FusedMultiplyAdd(x, b1, c0b);
            if (r > 1) { x = Vector256.Create(a[1]); c1a = Vector256.FusedMultiplyAdd(x, b0, c1a); c1b = Vector256.FusedMultiplyAdd(x, b1, c1b); }
            if (r > 2) { x = Vector256.Create(a[2]); c2a = Vector256.FusedMultiplyAdd(x, b0, c2a); c2b = Vector256.FusedMultiplyAdd(x, b1, c2b); }
            if (r > 3) { x = Vector256.Create(a[3]); c3a = Vector256.FusedMultiplyAdd(x, b0, c3a); c3b = Vector256.FusedMultiplyAdd(x, b1, c3b); }
            if (r > 4) { x = Vector256.Create(a[4]); c4a = Vector256.FusedMultiplyAdd(x, b0, c4a); c4b = Vector256.FusedMultiplyAdd(x, b1, c4b); }
            if (r > 5) { x = Vector256.Create(a[5]); c5a = Vector256.FusedMultiplyAdd(x, b0, c5a); c5b = Vector256.FusedMultiplyAdd(x, b1, c5b); }
        }
        Store(y, 0, c0a, c0b, bias, residual, ldy, clamp);
        if (r > 1) Store(y, 1, c1a, c1b, bias, residual, ldy, clamp);
        if (r > 2) Store(y, 2, c2a, c2b, bias, residual, ldy, clamp);
        if (r > 3) Store(y, 3, c3a, c3b, bias, residual, ldy, clamp);
        if (r > 4) Store(y, 4, c4a, c4b, bias, residual, ldy, clamp);
        if (r > 5) Store(y, 5, c5a, c5b, bias, residual, ldy, clamp);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, int i, Vector256<float> v0, Vector256<float> v1, float* bias, float* residual, int ldy,
        in VectorClamp clamp)
    {
        long at = (long)i * ldy;
        if (bias != null)
        {
            var add = Vector256.Create(bias[i]);
            v0 += add; v1 += add;
        }
        if (residual != null)
        {
            v0 += Vector256.Load(residual + at);
            v1 += Vector256.Load(residual + at + 8);
        }
        clamp.Apply(v0).Store(y + at);
        clamp.Apply(v1).Store(y + at + 8);
    }
}
