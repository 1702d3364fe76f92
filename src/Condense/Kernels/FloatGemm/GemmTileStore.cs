// The end of an AVX-512 GEMM tile (GemmKernelAvx512) that the driver finishes: each row of accumulators is scaled and merged
// with C (PlainStore) and finished in registers — the GEMM epilogue's bias, residual, activation or clamp (GemmEpilogue) applied before the one store
// (FinishingStore), as MLAS's convolution kernels and oneDNN's post-ops do. The driver otherwise stores the tile and the
// epilogue reads it back: when the tile's lines come cold from memory that second pass cost as much as the product itself
// for few input channels (MobileNetV2's 16 → 96 expansion at 112×112, batch 8, as a GEMM over the pixels: 2.31 ms with a
// bias and ReLU, 1.26 without, measured). The operations and their order are the epilogue's (GemmEpilogue.Apply), lane for
// lane, so the bits are the same.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Elementwise;

namespace Condense.Kernels.FloatGemm;

/// <summary>c = alpha·acc (+ beta·c) in registers: the rounding of MicroTile.StoreFused, t = alpha·acc, then c = fma(c, beta, t).</summary>
internal readonly unsafe struct PlainStore(float alpha, float beta)
{
    private readonly Vector512<float> _alpha = Vector512.Create(alpha), _beta = Vector512.Create(beta);

    /// <summary>As <see cref="Merge"/> on the lanes of <paramref name="mask"/> (C is not read elsewhere).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> MergeMasked(float* c, Vector512<float> x, Vector512<float> mask)
    {
        x *= _alpha;
        return beta == 0f ? x : Avx512F.FusedMultiplyAdd(Avx512F.MaskLoad(c, mask, Vector512<float>.Zero), _beta, x);
    }

    /// <summary>The row's values as stored at <paramref name="c"/> (its first element), not yet stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Merge(float* c, ref Vector512<float> x0, ref Vector512<float> x1)
    {
        x0 *= _alpha; x1 *= _alpha;
        if (beta != 0f)
        {
            x0 = Avx512F.FusedMultiplyAdd(Vector512.Load(c), _beta, x0);
            x1 = Avx512F.FusedMultiplyAdd(Vector512.Load(c + 16), _beta, x1);
        }
    }
}

/// <summary>
/// PlainStore, then what GemmEpilogue.Apply does to the stored tile: the column form's bias (first K block) and ReLU
/// (last), or the convolution form's row or column bias (first), residual and clamp (last). Not for GELU
/// (<see cref="Takes"/>), whose polynomial the tile would inline once per row.
/// </summary>
internal readonly unsafe struct FinishingStore
{
    private readonly PlainStore _plain;
    private readonly bool _convolution;
    private readonly float* _columnBias, _rowBias, _convolutionColumnBias, _residual;
    private readonly GemmActivation _activation;
    private readonly VectorClamp512 _clamp;

    /// <summary>Whether the store finishes <paramref name="epilogue"/> (anything but GELU).</summary>
    public static bool Takes(in GemmEpilogue epilogue) => epilogue.Activation != GemmActivation.Gelu;

    public FinishingStore(float alpha, float beta, in GemmEpilogue epilogue, int ldc, int row0, int column0, bool first, bool last)
    {
        _plain = new PlainStore(alpha, beta);
        _convolution = epilogue.IsConvolutionForm;
        _columnBias = first && epilogue.Bias != null ? epilogue.Bias + column0 : null;
        _activation = last ? epilogue.Activation : GemmActivation.None;
        _rowBias = first && epilogue.RowBias != null ? epilogue.RowBias + row0 : null;
        _convolutionColumnBias = first && epilogue.ColumnBias != null ? epilogue.ColumnBias + column0 : null;
        _residual = last && epilogue.Residual != null ? epilogue.Residual + (long)row0 * ldc + column0 : null;
        _clamp = new VectorClamp512(last ? epilogue.Clamp : default);
    }

    /// <summary>Fetches the residual rows of the tile (ldc apart) while the K loop runs.</summary>
    public void Prefetch(int ldc)
    {
        if (_residual == null) return;
        for (int i = 0; i < 12; i++) { Sse.Prefetch0(_residual + i * ldc); Sse.Prefetch0(_residual + i * ldc + 16); }
    }

    /// <summary>Row i of a full tile from its two accumulators: merged with C, finished and stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Row(float* c, int ldc, int i, Vector512<float> x0, Vector512<float> x1)
    {
        c += i * ldc;
        _plain.Merge(c, ref x0, ref x1);
        if (_convolution)
        {
            if (_rowBias != null) { var bias = Vector512.Create(_rowBias[i]); x0 += bias; x1 += bias; }
            if (_convolutionColumnBias != null) { x0 += Vector512.Load(_convolutionColumnBias); x1 += Vector512.Load(_convolutionColumnBias + 16); }
            if (_residual != null) { float* r = _residual + i * ldc; x0 += Vector512.Load(r); x1 += Vector512.Load(r + 16); }
            x0 = _clamp.Apply(x0); x1 = _clamp.Apply(x1);
        }
        else
        {
            if (_columnBias != null) { x0 += Vector512.Load(_columnBias); x1 += Vector512.Load(_columnBias + 16); }
            if (_activation == GemmActivation.Relu) { x0 = Vector512.Max(x0, Vector512<float>.Zero); x1 = Vector512.Max(x1, Vector512<float>.Zero); }
        }
        x0.Store(c); x1.Store(c + 16);
    }

    /// <summary>
    /// Row i, columns j.. of a ragged tile: the lanes of <paramref name="mask"/> merged, finished and stored, nothing read or
    /// written outside them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Masked(float* c, int ldc, int i, int j, Vector512<float> x, Vector512<float> mask)
    {
        c += i * ldc + j;
        x = _plain.MergeMasked(c, x, mask);
        if (_convolution)
        {
            if (_rowBias != null) x += Vector512.Create(_rowBias[i]);
            if (_convolutionColumnBias != null) x += Avx512F.MaskLoad(_convolutionColumnBias + j, mask, Vector512<float>.Zero);
            if (_residual != null) x += Avx512F.MaskLoad(_residual + i * ldc + j, mask, Vector512<float>.Zero);
            x = _clamp.Apply(x);
        }
        else
        {
            if (_columnBias != null) x += Avx512F.MaskLoad(_columnBias + j, mask, Vector512<float>.Zero);
            if (_activation == GemmActivation.Relu) x = Vector512.Max(x, Vector512<float>.Zero);
        }
        Avx512F.MaskStore(c, mask, x);
    }
}
