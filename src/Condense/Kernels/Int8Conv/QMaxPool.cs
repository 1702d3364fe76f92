// Max pooling of uint8 planes. The 2×2, stride-2, unpadded, undilated window of LeNet-style networks gets a
// vector path: the max of the two input rows, then of each byte pair (as uint16 lanes: low byte vs high
// byte), narrowed back to bytes — 8 outputs per step. Any other window runs the plain loops, which skip
// positions outside the image (float max pooling pads with −∞).
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
        for (int p = 0; p < planes; p++, x += height * width, y += oh * ow)
        {
            if (pairs) TwoByTwo(x, width, oh, ow, y);
            else General(x, height, width, window, oh, ow, y);
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
