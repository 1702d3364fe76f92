// The AVX2 channels-in-lanes direct tile: 16 output channels (two ymm) × up to 6 output positions in 12 accumulators,
// the counterpart of ConvKernel.Avx512Channels.cs (and of the NCHWc kernels of ONNX Runtime's MLAS). The pixel tiles
// (ConvKernel.Avx2.cs) load 16 image values at a tap's offset, unaligned, and compute the dropped positions past each
// output row; here each tap loads 16 weights (two aligned vectors of the packed panel) and broadcasts one image value per
// position, so every lane is a kept output. The positions need not share an output row: position j of the tile reads
// x[offsets[p] + bases[j]], bases being where each position's window starts in the padded, phase-split image
// (Conv2dDirect.cs). 12 accumulators, two weights and one broadcast fill 15 of the 16 ymm registers. The sums run over
// the taps in the same order from the same start as the pixel tiles, so both give the same bits. Positions beyond
// TPositions vanish at JIT time.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>16 output channels × up to 6 output positions with Vector256 and FMA, channels in the lanes.</summary>
internal static unsafe class ConvKernelAvx2Channels
{
    /// <summary>Output channels per tile (two vectors).</summary>
    public const int Channels = 16;

    /// <summary>The most output positions per tile.</summary>
    public const int MaxPositions = 6;

    /// <summary>
    /// c[j·16 + i] = start + Σ_p a[p·16 + i] · x[offsets[p] + bases[j]] for i &lt; 16, j &lt; positions ≤ 6, summed in order
    /// p = 0..k-1; start = c[j·16 + i] when <paramref name="accumulate"/>, else bias[i] (bias may be null: 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int positions, int k, float* a, float* x, int* offsets, int* bases, float* c, float* bias, bool accumulate)
    {
        switch (positions)
        {
            case 1: Tile<Rows1>(k, a, x, offsets, bases, c, bias, accumulate); break;
            case 2: Tile<Rows2>(k, a, x, offsets, bases, c, bias, accumulate); break;
            case 3: Tile<Rows3>(k, a, x, offsets, bases, c, bias, accumulate); break;
            case 4: Tile<Rows4>(k, a, x, offsets, bases, c, bias, accumulate); break;
            case 5: Tile<Rows5>(k, a, x, offsets, bases, c, bias, accumulate); break;
            case 6: Tile<Rows6>(k, a, x, offsets, bases, c, bias, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(positions));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TPositions>(int k, float* a, float* x, int* offsets, int* bases, float* c, float* bias, bool accumulate)
        where TPositions : struct, IRows
    {
        int n = TPositions.Count;
        Vector256<float> b0 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias);
        Vector256<float> b1 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + 8);
        Vector256<float> c0a = default, c0b = default, c1a = default, c1b = default, c2a = default, c2b = default;
        Vector256<float> c3a = default, c3b = default, c4a = default, c4b = default, c5a = default, c5b = default;
        int o0 = bases[0], o1 = n > 1 ? bases[1] : 0, o2 = n > 2 ? bases[2] : 0, o3 = n > 3 ? bases[3] : 0;
        int o4 = n > 4 ? bases[4] : 0, o5 = n > 5 ? bases[5] : 0;
        { c0a = accumulate ? Vector256.Load(c + 0) : b0; c0b = accumulate ? Vector256.Load(c + 8) : b1; }
        if (n > 1) { c1a = accumulate ? Vector256.Load(c + 16) : b0; c1b = accumulate ? Vector256.Load(c + 24) : b1; }
        if (n > 2) { c2a = accumulate ? Vector256.Load(c + 32) : b0; c2b = accumulate ? Vector256.Load(c + 40) : b1; }
        if (n > 3) { c3a = accumulate ? Vector256.Load(c + 48) : b0; c3b = accumulate ? Vector256.Load(c + 56) : b1; }
        if (n > 4) { c4a = accumulate ? Vector256.Load(c + 64) : b0; c4b = accumulate ? Vector256.Load(c + 72) : b1; }
        if (n > 5) { c5a = accumulate ? Vector256.Load(c + 80) : b0; c5b = accumulate ? Vector256.Load(c + 88) : b1; }
        for (int p = 0; p < k; p++, a += 16)
        {
            float* x0 = x + offsets[p];
            var w0 = Vector256.Load(a); var w1 = Vector256.Load(a + 8);
            { var s = Vector256.Create(x0[o0]); c0a = Fma.MultiplyAdd(s, w0, c0a); c0b = Fma.MultiplyAdd(s, w1, c0b); }
            if (n > 1) { var s = Vector256.Create(x0[o1]); c1a = Fma.MultiplyAdd(s, w0, c1a); c1b = Fma.MultiplyAdd(s, w1, c1b); }
            if (n > 2) { var s = Vector256.Create(x0[o2]); c2a = Fma.MultiplyAdd(s, w0, c2a); c2b = Fma.MultiplyAdd(s, w1, c2b); }
            if (n > 3) { var s = Vector256.Create(x0[o3]); c3a = Fma.MultiplyAdd(s, w0, c3a); c3b = Fma.MultiplyAdd(s, w1, c3b); }
            if (n > 4) { var s = Vector256.Create(x0[o4]); c4a = Fma.MultiplyAdd(s, w0, c4a); c4b = Fma.MultiplyAdd(s, w1, c4b); }
            if (n > 5) { var s = Vector256.Create(x0[o5]); c5a = Fma.MultiplyAdd(s, w0, c5a); c5b = Fma.MultiplyAdd(s, w1, c5b); }
        }
        { c0a.Store(c + 0); c0b.Store(c + 8); }
        if (n > 1) { c1a.Store(c + 16); c1b.Store(c + 24); }
        if (n > 2) { c2a.Store(c + 32); c2b.Store(c + 40); }
        if (n > 3) { c3a.Store(c + 48); c3b.Store(c + 56); }
        if (n > 4) { c4a.Store(c + 64); c4b.Store(c + 72); }
        if (n > 5) { c5a.Store(c + 80); c5b.Store(c + 88); }
    }
}
