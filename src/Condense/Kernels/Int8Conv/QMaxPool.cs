// Max pooling of uint8 planes. The 2×2, stride-2, unpadded, undilated window of LeNet-style networks gets a
// vector path: the max of the two input rows, then of each byte pair (as uint16 lanes: low byte vs high
// byte), narrowed back to bytes — 8 outputs per step; so does ResNet's 3×3, stride-2 window (pads ≤ 1). Any other
// window runs the plain loops, which skip positions outside the image (float max pooling pads with −∞).
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;

namespace Condense.Kernels.Int8Conv;

/// <summary>uint8 max pooling over planes of H × W.</summary>
internal static unsafe class QMaxPool
{
    // Below this many input bytes the pooling runs on the calling thread.
    private const long ParallelBytes = 1 << 18;

    /// <summary>Pools <paramref name="planes"/> planes; large calls split the planes over Cpu.Threads.</summary>
    public static void Forward(byte* x, int planes, int height, int width, PoolParameters window, int oh, int ow, byte* y)
    {
        int parts = (int)Math.Min((long)planes * height * width >= ParallelBytes ? Cpu.Threads : 1, planes);
        if (parts <= 1) { Planes(x, planes, height, width, window, oh, ow, y); return; }
        WorkerPool.Run(new Job(x, planes, height, width, window, oh, ow, y, parts), parts);
    }

    // A contiguous run of planes per part.
    private sealed class Job(byte* x, int planes, int height, int width, PoolParameters window, int oh, int ow, byte* y, int parts) : IParallelJob
    {
        private readonly byte* _x = x, _y = y;

        public void Execute(int part)
        {
            int first = (int)((long)planes * part / parts), last = (int)((long)planes * (part + 1) / parts);
            Planes(_x + (long)first * height * width, last - first, height, width, window, oh, ow, _y + (long)first * oh * ow);
        }
    }

    private static void Planes(byte* x, int planes, int height, int width, PoolParameters window, int oh, int ow, byte* y)
    {
        bool pairs = window is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadTop: 0, PadLeft: 0, DilationH: 1, DilationW: 1 }
            && 2 * oh <= height && 2 * ow <= width;
        bool threeByTwo = window is { KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: <= 1, PadLeft: <= 1, DilationH: 1, DilationW: 1 };
        bool strideOne = window is { StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1 } && window.PadLeft < window.KernelW;
        // ResNet's stem pool: one zeroed row of 2·OW + 2 bytes (+ the vector width) per call, shifted by the left pad; at
        // stride 1 a row of OW + KW − 1 (the padded width) + 16.
        byte[]? row = threeByTwo ? new byte[2 * ow + 2 + 16] : strideOne ? new byte[ow + window.KernelW - 1 + 16] : null;
        for (int p = 0; p < planes; p++, x += height * width, y += oh * ow)
        {
            if (pairs) TwoByTwo(x, width, oh, ow, y);
            else if (strideOne) fixed (byte* r = row) StrideOne(x, height, width, window, oh, ow, r, y);
            else if (row is not null) fixed (byte* r = row) ThreeByThreeStrideTwo(x, height, width, window.PadTop, window.PadLeft, oh, ow, r, y);
            else General(x, height, width, window, oh, ow, y);
        }
    }

    // 3×3 windows at stride 2: the max of the (up to) three input rows of an output row goes into row[padLeft + ix]
    // (0 elsewhere: the smallest code, so a padded position never wins, as skipping it), then
    // y[ox] = max(row[2ox], row[2ox + 1], row[2ox + 2]) — 8 outputs per step as uint16 lanes (low byte, high byte).
    private static void ThreeByThreeStrideTwo(byte* x, int height, int width, int padTop, int padLeft, int oh, int ow, byte* row, byte* y)
    {
        int span = Math.Min(width, 2 * ow + 2 - padLeft);   // input columns any window reads
        byte* r = row + padLeft;
        var lowByte = Vector128.Create((ushort)0xFF);
        for (int oy = 0; oy < oh; oy++, y += ow)
        {
            RowsMax(x, width, Math.Max(0, 2 * oy - padTop), Math.Min(height, 2 * oy - padTop + 3), span, r);
            int ox = 0;
            if (Vector128.IsHardwareAccelerated)
                for (; ox <= ow - 8; ox += 8)
                {
                    var pairs = Vector128.Load(row + 2 * ox).AsUInt16();
                    var next = Vector128.Load(row + 2 * ox + 2).AsUInt16() & lowByte;
                    var max = Vector128.Max(Vector128.Max(pairs & lowByte, Vector128.ShiftRightLogical(pairs, 8)), next);
                    *(ulong*)(y + ox) = Vector128.Narrow(max, max).AsUInt64().ToScalar();
                }
            for (; ox < ow; ox++) y[ox] = Math.Max(Math.Max(row[2 * ox], row[2 * ox + 1]), row[2 * ox + 2]);
        }
    }

    // Windows of KH × KW at stride 1: row[padLeft + ix] = the max of the window's input rows at column ix (the padding columns
    // stay 0, the smallest code, which never wins against a real one), then y[ox] = max over j < KW of row[ox + j].
    private static void StrideOne(byte* x, int height, int width, PoolParameters window, int oh, int ow, byte* row, byte* y)
    {
        byte* r = row + window.PadLeft;
        int span = Math.Min(width, ow + window.KernelW - 1 - window.PadLeft);   // input columns any window reads
        for (int oy = 0; oy < oh; oy++, y += ow)
        {
            RowsMax(x, width, Math.Max(0, oy - window.PadTop), Math.Min(height, oy - window.PadTop + window.KernelH), span, r);
            int ox = 0;
            if (Vector128.IsHardwareAccelerated)
                for (; ox <= ow - 16; ox += 16)
                {
                    var max = Vector128.Load(row + ox);
                    for (int j = 1; j < window.KernelW; j++) max = Vector128.Max(max, Vector128.Load(row + ox + j));
                    max.Store(y + ox);
                }
            for (; ox < ow; ox++)
            {
                byte max = row[ox];
                for (int j = 1; j < window.KernelW; j++) max = Math.Max(max, row[ox + j]);
                y[ox] = max;
            }
        }
    }

    // r[ix] = the max of input rows [first, last) at column ix, for ix < span (0 when there are no rows).
    private static void RowsMax(byte* x, int width, int first, int last, int span, byte* r)
    {
        int ix = 0;
        if (Vector128.IsHardwareAccelerated)
            for (; ix <= span - 16; ix += 16)
            {
                var max = Vector128<byte>.Zero;
                for (int iy = first; iy < last; iy++) max = Vector128.Max(max, Vector128.Load(x + iy * width + ix));
                max.Store(r + ix);
            }
        for (; ix < span; ix++)
        {
            byte max = 0;
            for (int iy = first; iy < last; iy++) max = Math.Max(max, x[iy * width + ix]);
            r[ix] = max;
        }
    }

    private static void TwoByTwo(byte* x, int width, int oh, int ow, byte* y)
    {
        var lowByte = Vector128.Create((ushort)0xFF);
        for (int oy = 0; oy < oh; oy++, y += ow)
        {
            byte* top = x + 2 * oy * width, bottom = top + width;
            int ox = 0;
            if (Vector128.IsHardwareAccelerated)
                for (; ox <= ow - 8; ox += 8)
                {
                    var rows = Vector128.Max(Vector128.Load(top + 2 * ox), Vector128.Load(bottom + 2 * ox)).AsUInt16();
                    var max = Vector128.Max(rows & lowByte, Vector128.ShiftRightLogical(rows, 8));
                    *(ulong*)(y + ox) = Vector128.Narrow(max, max).AsUInt64().ToScalar();
                }
            for (; ox < ow; ox++)
                y[ox] = Math.Max(Math.Max(top[2 * ox], top[2 * ox + 1]), Math.Max(bottom[2 * ox], bottom[2 * ox + 1]));
        }
    }

    private static void General(byte* x, int height, int width, PoolParameters window, int oh, int ow, byte* y)
    {
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                byte max = 0;
                for (int kh = 0; kh < window.KernelH; kh++)
                {
                    int iy = oy * window.StrideH - window.PadTop + kh * window.DilationH;
                    if ((uint)iy >= (uint)height) continue;
                    for (int kw = 0; kw < window.KernelW; kw++)
                    {
                        int ix = ox * window.StrideW - window.PadLeft + kw * window.DilationW;
                        if ((uint)ix < (uint)width) max = Math.Max(max, x[iy * width + ix]);
                    }
                }
                y[oy * ow + ox] = max;
            }
    }
}
