// The float image copy the direct and depthwise convolutions read (PhaseSplitImage.cs describes the layout).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Condense.Kernels.Conv;

/// <summary>Copies float images into their zero-padded, phase-split form.</summary>
internal static unsafe class PhaseSplitCopy
{
    /// <summary>Copies the group's image (C/g, H, W) into its padded, phase-split copy; the zero border is left alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(Conv2dGeometry g, PhaseSplitImage l, float* image, float* padded)
    {
        var o = g.Options;
        int h = g.Height, w = g.Width, sh = l.StrideH, sw = l.StrideW;
        long plane = (long)l.Hq * l.Wq;
        // Phase by phase, so that no division runs per row or pixel: input rows iy ≡ phase − padTop (mod sH) are
        // consecutive rows of one plane, and likewise columns within a plane row.
        for (int c = 0; c < g.InPerGroup; c++)
            for (int rowPhase = 0; rowPhase < sh; rowPhase++)
            {
                int iy = ((rowPhase - o.PadTop) % sh + sh) % sh;
                float* planeRow = padded + (c * sh + rowPhase) * sw * plane + (long)(iy + o.PadTop) / sh * l.Wq;
                for (; iy < h; iy += sh, planeRow += l.Wq)
                {
                    float* src = image + ((long)c * h + iy) * w;
                    if (sw == 1) { CopyRow(planeRow + o.PadLeft, src, w); continue; }
                    if (sw == 2)
                    {
                        // Column ix goes to phase (ix + padLeft) mod 2 at (ix + padLeft) div 2.
                        int evenPhase = o.PadLeft % 2, oddPhase = 1 - evenPhase;
                        StrideTwoSplit.Split(src, w, planeRow + evenPhase * plane + o.PadLeft / 2, planeRow + oddPhase * plane + (1 + o.PadLeft) / 2);
                        continue;
                    }
                    for (int colPhase = 0; colPhase < sw; colPhase++)
                    {
                        int ix = ((colPhase - o.PadLeft) % sw + sw) % sw;
                        float* dst = planeRow + colPhase * plane + (ix + o.PadLeft) / sw;
                        for (; ix < w; ix += sw) *dst++ = src[ix];
                    }
                }
            }
    }

    /// <summary>to[0..count) = from[0..count): short rows inline (a memmove call costs as much as copying 28 floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyRow(float* to, float* from, int count)
    {
        if (!Vector256.IsHardwareAccelerated || count > 64) { Unsafe.CopyBlockUnaligned(to, from, (uint)(count * sizeof(float))); return; }
        int j = 0;
        for (; j + 8 <= count; j += 8) Vector256.Store(Vector256.Load(from + j), to + j);
        for (; j < count; j++) to[j] = from[j];
    }
}
