// The AVX-512 channels-in-lanes direct tile: 32 output channels (two zmm) × up to 12 output positions of one output
// row in 24 accumulators. The pixel tiles (ConvKernel.Avx512*.cs) put output positions in the lanes, which wastes
// lanes on small images (a padded 7×7 has 63 positions, 49 of them kept); here the lanes hold output channels, as
// in ONNX Runtime's NCHWc convolutions, and a tile covers only kept positions (a run within one output row), so
// every lane is useful whenever the group's output channels are a multiple of 32. Each tap loads its 32 weights
// (two vectors of the packed panel) and broadcasts the positions' input values straight from the padded,
// phase-split NCHW image (Conv2dDirect.cs): 24 FMAs per 14 loads at 12 positions. The sums run over the taps in
// the same order from the same start as the pixel tiles, so both give the same bits. Positions beyond TPixels
// vanish at JIT time.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>32 output channels × up to 12 output positions with Vector512 and FMA, channels in the lanes.</summary>
internal static unsafe class ConvKernelAvx512Channels
{
    /// <summary>Output channels per tile (two vectors).</summary>
    public const int Channels = 32;

    /// <summary>The most output positions per tile.</summary>
    public const int MaxPositions = 12;

    /// <summary>
    /// c[j·32 + i] = start + Σ_p a[p·32 + i] · x[offsets[p] + j] for i &lt; 32, j &lt; positions ≤ 12, summed in order
    /// p = 0..k-1; start = c[j·32 + i] when <paramref name="accumulate"/>, else bias[i] (bias may be null: 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int positions, int k, float* a, float* x, int* offsets, float* c, float* bias, bool accumulate)
    {
        switch (positions)
        {
            case 1: Tile<Rows1>(k, a, x, offsets, c, bias, accumulate); break;
            case 2: Tile<Rows2>(k, a, x, offsets, c, bias, accumulate); break;
            case 3: Tile<Rows3>(k, a, x, offsets, c, bias, accumulate); break;
            case 4: Tile<Rows4>(k, a, x, offsets, c, bias, accumulate); break;
            case 5: Tile<Rows5>(k, a, x, offsets, c, bias, accumulate); break;
            case 6: Tile<Rows6>(k, a, x, offsets, c, bias, accumulate); break;
            case 7: Tile<Rows7>(k, a, x, offsets, c, bias, accumulate); break;
            case 8: Tile<Rows8>(k, a, x, offsets, c, bias, accumulate); break;
            case 9: Tile<Rows9>(k, a, x, offsets, c, bias, accumulate); break;
            case 10: Tile<Rows10>(k, a, x, offsets, c, bias, accumulate); break;
            case 11: Tile<Rows11>(k, a, x, offsets, c, bias, accumulate); break;
            case 12: Tile<Rows12>(k, a, x, offsets, c, bias, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(positions));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TPositions>(int k, float* a, float* x, int* offsets, float* c, float* bias, bool accumulate)
        where TPositions : struct, IRows
    {
        int n = TPositions.Count;
        Vector512<float> b0 = bias is null ? Vector512<float>.Zero : Vector512.Load(bias);
        Vector512<float> b1 = bias is null ? Vector512<float>.Zero : Vector512.Load(bias + 16);
        Vector512<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default, c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default, c5a = default, c5b = default, c6a = default, c6b = default, c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default, c9a = default, c9b = default, c10a = default, c10b = default, c11a = default, c11b = default;
        { c0a = accumulate ? Vector512.Load(c + 0) : b0; c0b = accumulate ? Vector512.Load(c + 16) : b1; }
        if (n > 1) { c1a = accumulate ? Vector512.Load(c + 32) : b0; c1b = accumulate ? Vector512.Load(c + 48) : b1; }
        if (n > 2) { c2a = accumulate ? Vector512.Load(c + 64) : b0; c2b = accumulate ? Vector512.Load(c + 80) : b1; }
        if (n > 3) { c3a = accumulate ? Vector512.Load(c + 96) : b0; c3b = accumulate ? Vector512.Load(c + 112) : b1; }
        if (n > 4) { c4a = accumulate ? Vector512.Load(c + 128) : b0; c4b = accumulate ? Vector512.Load(c + 144) : b1; }
        if (n > 5) { c5a = accumulate ? Vector512.Load(c + 160) : b0; c5b = accumulate ? Vector512.Load(c + 176) : b1; }
        if (n > 6) { c6a = accumulate ? Vector512.Load(c + 192) : b0; c6b = accumulate ? Vector512.Load(c + 208) : b1; }
        if (n > 7) { c7a = accumulate ? Vector512.Load(c + 224) : b0; c7b = accumulate ? Vector512.Load(c + 240) : b1; }
        if (n > 8) { c8a = accumulate ? Vector512.Load(c + 256) : b0; c8b = accumulate ? Vector512.Load(c + 272) : b1; }
        if (n > 9) { c9a = accumulate ? Vector512.Load(c + 288) : b0; c9b = accumulate ? Vector512.Load(c + 304) : b1; }
        if (n > 10) { c10a = accumulate ? Vector512.Load(c + 320) : b0; c10b = accumulate ? Vector512.Load(c + 336) : b1; }
        if (n > 11) { c11a = accumulate ? Vector512.Load(c + 352) : b0; c11b = accumulate ? Vector512.Load(c + 368) : b1; }
        for (int p = 0; p < k; p++, a += 32)
        {
            float* x0 = x + offsets[p];
            var w0 = Vector512.Load(a); var w1 = Vector512.Load(a + 16);
            { var s = Vector512.Create(x0[0]); c0a = Avx512F.FusedMultiplyAdd(s, w0, c0a); c0b = Avx512F.FusedMultiplyAdd(s, w1, c0b); }
            if (n > 1) { var s = Vector512.Create(x0[1]); c1a = Avx512F.FusedMultiplyAdd(s, w0, c1a); c1b = Avx512F.FusedMultiplyAdd(s, w1, c1b); }
            if (n > 2) { var s = Vector512.Create(x0[2]); c2a = Avx512F.FusedMultiplyAdd(s, w0, c2a); c2b = Avx512F.FusedMultiplyAdd(s, w1, c2b); }
            if (n > 3) { var s = Vector512.Create(x0[3]); c3a = Avx512F.FusedMultiplyAdd(s, w0, c3a); c3b = Avx512F.FusedMultiplyAdd(s, w1, c3b); }
            if (n > 4) { var s = Vector512.Create(x0[4]); c4a = Avx512F.FusedMultiplyAdd(s, w0, c4a); c4b = Avx512F.FusedMultiplyAdd(s, w1, c4b); }
            if (n > 5) { var s = Vector512.Create(x0[5]); c5a = Avx512F.FusedMultiplyAdd(s, w0, c5a); c5b = Avx512F.FusedMultiplyAdd(s, w1, c5b); }
            if (n > 6) { var s = Vector512.Create(x0[6]); c6a = Avx512F.FusedMultiplyAdd(s, w0, c6a); c6b = Avx512F.FusedMultiplyAdd(s, w1, c6b); }
            if (n > 7) { var s = Vector512.Create(x0[7]); c7a = Avx512F.FusedMultiplyAdd(s, w0, c7a); c7b = Avx512F.FusedMultiplyAdd(s, w1, c7b); }
            if (n > 8) { var s = Vector512.Create(x0[8]); c8a = Avx512F.FusedMultiplyAdd(s, w0, c8a); c8b = Avx512F.FusedMultiplyAdd(s, w1, c8b); }
            if (n > 9) { var s = Vector512.Create(x0[9]); c9a = Avx512F.FusedMultiplyAdd(s, w0, c9a); c9b = Avx512F.FusedMultiplyAdd(s, w1, c9b); }
            if (n > 10) { var s = Vector512.Create(x0[10]); c10a = Avx512F.FusedMultiplyAdd(s, w0, c10a); c10b = Avx512F.FusedMultiplyAdd(s, w1, c10b); }
            if (n > 11) { var s = Vector512.Create(x0[11]); c11a = Avx512F.FusedMultiplyAdd(s, w0, c11a); c11b = Avx512F.FusedMultiplyAdd(s, w1, c11b); }
        }
        { c0a.Store(c + 0); c0b.Store(c + 16); }
        if (n > 1) { c1a.Store(c + 32); c1b.Store(c + 48); }
        if (n > 2) { c2a.Store(c + 64); c2b.Store(c + 80); }
        if (n > 3) { c3a.Store(c + 96); c3b.Store(c + 112); }
        if (n > 4) { c4a.Store(c + 128); c4b.Store(c + 144); }
        if (n > 5) { c5a.Store(c + 160); c5b.Store(c + 176); }
        if (n > 6) { c6a.Store(c + 192); c6b.Store(c + 208); }
        if (n > 7) { c7a.Store(c + 224); c7b.Store(c + 240); }
        if (n > 8) { c8a.Store(c + 256); c8b.Store(c + 272); }
        if (n > 9) { c9a.Store(c + 288); c9b.Store(c + 304); }
        if (n > 10) { c10a.Store(c + 320); c10b.Store(c + 336); }
        if (n > 11) { c11a.Store(c + 352); c11b.Store(c + 368); }
    }
}
