// What both direct int8 convolutions share (QConv2dDirect over int16 tap pairs, QConv2dQuads over uint8 channel
// quads): the calling thread's aligned buffers, where each input pixel lands in the phase-split planar image,
// and the last step of an image: the OW useful positions of each padded output row copied out (NCHW) or requantized
// straight from the padded rows.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Buffers, pixel placement and output rows of the direct int8 convolutions.</summary>
internal static unsafe class QConvShared
{
    /// <summary>Where input row iy and column ix of channel 0 land in the planar image: rowBase[iy] + colBase[ix].</summary>
    public static void Bases(Conv2dGeometry g, PhaseSplitImage l, int* rowBase, int* colBase)
    {
        var o = g.Options;
        int plane = l.Hq * l.Wq;
        for (int iy = 0; iy < g.Height; iy++)
        {
            int py = iy + o.PadTop;
            rowBase[iy] = py % l.StrideH * l.StrideW * plane + py / l.StrideH * l.Wq;
        }
        for (int ix = 0; ix < g.Width; ix++)
        {
            int px = ix + o.PadLeft;
            colBase[ix] = px % l.StrideW * plane + px / l.StrideW;
        }
    }

    /// <summary>
    /// One image's accumulators (m rows of <paramref name="stride"/> padded positions) to its output: the int32 sums
    /// into <paramref name="acc"/> (m × OH × OW) when <paramref name="y"/> is null, else each output row requantized into y
    /// with its channel's <paramref name="multiplier"/> and <paramref name="shift"/> on <paramref name="path"/>.
    /// </summary>
    public static void WriteImage(KernelPath path, Conv2dGeometry g, int wq, int* rows, int stride, int* acc, int* multiplier, int* shift,
        byte yZero, byte qmin, byte qmax, byte* y)
    {
        int m = g.OutChannels, oh = g.OutHeight, ow = g.OutWidth;
        for (int o = 0; o < m; o++)
            for (int oy = 0; oy < oh; oy++)
            {
                int* row = rows + o * stride + oy * wq;
                long at = (long)(o * oh + oy) * ow;
                if (y is null) CopyRow((byte*)row, (byte*)(acc + at), ow * sizeof(int));
                else RowRequantizer.Row(path, row, ow, multiplier[o], shift[o], yZero, qmin, qmax, y + at);
            }
    }

    // An output row of a few dozen int32: 16-byte chunks, the last one moved back to end at the row's end (it
    // overlaps, never passes it). CopyBlockUnaligned calls memmove for a variable length: 6 · 28 calls per
    // LeNet image cost about as much as the convolution.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(byte* src, byte* dst, int count)
    {
        if (count >= 16)
        {
            for (int i = 0; i < count - 16; i += 16) Vector128.Store(Vector128.Load(src + i), dst + i);
            Vector128.Store(Vector128.Load(src + count - 16), dst + count - 16);
        }
        else if (count >= 8)
        {
            *(ulong*)dst = *(ulong*)src;
            *(ulong*)(dst + count - 8) = *(ulong*)(src + count - 8);
        }
        else for (int i = 0; i < count; i++) dst[i] = src[i];
    }
}
