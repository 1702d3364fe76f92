// The int8 tile kernel of Int8Dot.JitZmmQuads: a 12-row × 32-channel tile over the quad layout, computed by the
// emitted zmm vpdpbusd code of JitQuadKernels (see there for why machine code). Everything else — packing X as
// quads, the zero-point offset, requantization, threading — is the QGemmDriver path of QGemmKernelQuads. Ragged
// tiles run the one- or two-panel kernel into a stack tile and copy the valid columns, as QGemmKernelAvx512 does.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm.Jit;

/// <summary>12 × 32 int8 tile kernel: emitted AVX-512 VNNI code.</summary>
internal unsafe struct QGemmKernelJitZmm : IQGemmKernel
{
    private const int Width = 32;

    public static KernelPath Path => KernelPath.Avx512;
    public static int MR => JitQuadKernels.TileRows;
    public static QGemmLayout Layout => QGemmLayout.Quads;
    public static int Panels => 2;

    public static void Tile(int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        if (nValid == Width && kQuads > 0) { JitQuadKernels.Run(MR, 2, kQuads, a, b, panelStride, offset, c, ldc); return; }
        Ragged(MR, kQuads, a, b, panelStride, offset, c, ldc, nValid);
    }

    public static void Row(int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int nValid)
    {
        if (nValid == Width && kQuads > 0) { JitQuadKernels.Run(1, 2, kQuads, a, b, panelStride, offset, c, Width); return; }
        Ragged(1, kQuads, a, b, panelStride, offset, c, Width, nValid);
    }

    /// <summary>Fewer than 32 valid channels (or k = 0): the kernel of one or two panels into a stack tile, then the valid columns.</summary>
    private static void Ragged(int rows, int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        int width = nValid > 16 ? Width : 16;
        int* tile = stackalloc int[JitQuadKernels.TileRows * Width];
        if (kQuads == 0)
            for (int i = 0; i < rows; i++) new ReadOnlySpan<int>(offset, width).CopyTo(new Span<int>(tile + i * width, width));
        else
            JitQuadKernels.Run(rows, width / 16, kQuads, a, b, panelStride, offset, tile, width);
        for (int i = 0; i < rows; i++) new ReadOnlySpan<int>(tile + i * width, nValid).CopyTo(new Span<int>(c + i * ldc, nValid));
    }
}
