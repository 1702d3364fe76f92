// Max pooling of channels-last (NHWC) uint8 images, for the integer engine's codes between channels-last
// convolutions: each output pixel is the bytewise max of the C-byte rows of the window's input pixels (64 or
// 16 channels per vector step, then single bytes). Positions outside the image are skipped, as in QMaxPool (float
// max pooling pads with −∞); a window with no position inside gives 0. Output rows are split over threads.
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;

namespace Condense.Kernels.Int8Conv;

/// <summary>uint8 max pooling over NHWC images.</summary>
internal static unsafe class QMaxPoolNhwc
{
    private const long ParallelBytes = 1 << 18;

    /// <summary>x (N, H, W, C) → y (N, OH, OW, C).</summary>
    public static void Forward(byte* x, int batch, int height, int width, int channels, PoolParameters window, int oh, int ow, byte* y)
    {
        int rows = batch * oh;
        int parts = (int)Math.Min((long)batch * height * width * channels >= ParallelBytes ? Cpu.Threads : 1, rows);
        var job = new Job(x, height, width, channels, window, oh, ow, y, rows, Math.Max(parts, 1));
        if (parts <= 1) job.Execute(0);
        else WorkerPool.Run(job, parts);
    }

    private sealed class Job(byte* x, int height, int width, int channels, PoolParameters window, int oh, int ow, byte* y, int rows, int parts)
        : IParallelJob
    {
        private readonly byte* _x = x, _y = y;

        public void Execute(int part)
        {
            var w = window;
            byte** inside = stackalloc byte*[w.KernelH * w.KernelW];
            byte** rowsInside = stackalloc byte*[w.KernelH];
            int first = (int)((long)rows * part / parts), last = (int)((long)rows * (part + 1) / parts);
            for (int row = first; row < last; row++)
            {
                int n = row / oh, oy = row % oh, validRows = 0;
                byte* image = _x + (long)n * height * width * channels;
                for (int kh = 0; kh < w.KernelH; kh++)
                {
                    int iy = oy * w.StrideH - w.PadTop + kh * w.DilationH;
                    if ((uint)iy < (uint)height) rowsInside[validRows++] = image + (long)iy * width * channels;
                }
                for (int ox = 0; ox < ow; ox++)
                {
                    int ix0 = ox * w.StrideW - w.PadLeft, count = 0;
                    for (int r = 0; r < validRows; r++)
                        for (int kw = 0; kw < w.KernelW; kw++)
                        {
                            int ix = ix0 + kw * w.DilationW;
                            if ((uint)ix < (uint)width) inside[count++] = rowsInside[r] + (long)ix * channels;
                        }
                    Max(inside, count, _y + ((long)row * ow + ox) * channels, channels);
                }
            }
        }
    }

    // dst = the bytewise max of the rows at sources[0 .. count) (0 when count = 0).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Max(byte** sources, int count, byte* dst, int channels)
    {
        if (count == 0) { new Span<byte>(dst, channels).Clear(); return; }
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; c <= channels - 64; c += 64)
            {
                var v = Vector512.Load(sources[0] + c);
                for (int k = 1; k < count; k++) v = Vector512.Max(v, Vector512.Load(sources[k] + c));
                v.Store(dst + c);
            }
        for (; c <= channels - 16; c += 16)
        {
            var v = Vector128.Load(sources[0] + c);
            for (int k = 1; k < count; k++) v = Vector128.Max(v, Vector128.Load(sources[k] + c));
            v.Store(dst + c);
        }
        for (; c < channels; c++)
        {
            byte v = sources[0][c];
            for (int k = 1; k < count; k++) v = Math.Max(v, sources[k][c]);
            dst[c] = v;
        }
    }
}
