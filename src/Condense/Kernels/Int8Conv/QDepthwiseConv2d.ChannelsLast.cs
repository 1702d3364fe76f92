// The channels-last form of the int8 depthwise convolution on AVX-512 (MobileNet's 3×3 layers between the emitted
// channels-last 1×1 kernels): x (N, H, W, C) and y (N, OH, OW, C) codes, one output channel per input channel, C a
// multiple of 16. A pixel's 16 channels are one vector as they lie in memory, so nothing is transposed. For each output
// row, the window's rows inside the image are copied (16 bytes a pixel) into a small patch whose left and right padding
// holds z_x; then each tap of each output pixel is one 16-byte load widened to int32 lanes [x, 0], made [x, 1] by an or,
// and one vpmaddwd against the lanes [w, −z_x·w], which adds (x − z_x)·w for all 16 channels — 0 on the padding (|z_x·w|
// ≤ 255·128 fits int16); rows above or below the image are skipped: the reference's x − z_x = 0 there. Four output
// pixels at a time share each weight load; the weight's lanes are made once per weight array and zero point. (Widening
// each input row once into a ring of [x, 1] rows, so that a tap is a plain load, measured slower: 1.0 → 1.7 ms for
// MobileNetV2's depthwise layers at batch 1; a ring of padded byte rows, each copied once per block instead of once per
// output row, was 10 % faster on one thread and twice as slow on two, not understood.) A unit of work is one output
// row of one 16-channel block; its sums are requantized per channel by ChannelRequantizer (the constants loaded once per
// row) and stored 16 bytes a pixel. The same integers as the planar and lanes forms (QDepthwiseConv2d.cs;
// QConv2dReference.cs is the spec), for any thread count.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

public static unsafe partial class QDepthwiseConv2d
{
    private const int BlockLanes = 16;

    /// <summary>The AVX-512 channels-last kernel: one output channel per input channel, C a multiple of 16.</summary>
    private static bool UsesChannelsLast512(KernelPath path, Conv2dGeometry g) =>
        path == KernelPath.Avx512 && g.OutChannels == g.InChannels && g.InChannels % BlockLanes == 0 && (ForceLanes ?? true);

    [ThreadStatic] private static int[]? t_clScratch, t_clRow;
    [ThreadStatic] private static byte[]? t_clPatch;

    /// <summary>A weight in lanes for one input zero point, in a pinned array (read through its first 64-byte boundary).</summary>
    private sealed class PreparedLanes(byte zeroPoint, int count)
    {
        public byte ZeroPoint { get; } = zeroPoint;
        public int[] Lanes { get; } = GC.AllocateUninitializedArray<int>(count + 16, pinned: true);
    }

    // Made once per weight array and zero point: the integer engine's weights never change after compilation, and making
    // them on every call cost a third of a small layer's time (960 channels of 7×7 on two threads: 20.6–21.5 → 13.8–13.9 µs
    // a call). Two threads asking with different zero points each use the lanes they made.
    private static readonly ConditionalWeakTable<sbyte[], PreparedLanes> s_prepared = new();

    // lanes[(block·taps + t)·16 + i] = [w, −z_x·w] as two int16 of channel block·16 + i.
    private static int* WeightLanes(sbyte[] weight, int c, int taps, byte xZeroPoint)
    {
        if (!s_prepared.TryGetValue(weight, out var prepared) || prepared.ZeroPoint != xZeroPoint || prepared.Lanes.Length != c * taps + 16)
        {
            prepared = new PreparedLanes(xZeroPoint, c * taps);
            fixed (int* aligned = prepared.Lanes)
            {
                int* lanes = (int*)(((nint)aligned + 63) & ~(nint)63);
                for (int b = 0; b < c / BlockLanes; b++)
                    for (int i = 0; i < BlockLanes; i++)
                    {
                        int first = (b * BlockLanes + i) * taps;
                        int* to = lanes + (long)b * taps * BlockLanes + i;
                        for (int t = 0; t < taps; t++) to[t * BlockLanes] = (ushort)(short)weight[first + t] | (-xZeroPoint * weight[first + t]) << 16;
                    }
            }
            s_prepared.AddOrUpdate(weight, prepared);
        }
        // Pinned at allocation: the address stays valid while the table (or the caller) keeps the weight alive.
        return AlignedBuffer.Start(prepared.Lanes);
    }

    // Channels-last depthwise layers of MobileNetV2's size (up to 8 MFLOP at 224²) run on the calling thread: in the
    // network, a layer that reads what both cores wrote and leaves its output in both cores' caches cost more than the
    // second core saved (about 9 operations a byte; QConv2dNhwc.ParallelFlopsPerByte). MobileNetV2 int8 on two threads:
    // node sums 3.40–3.41 ms with its depthwise layers split, 3.14–3.21 ms with them on one thread; ORT/Condense 1.03–1.16
    // against 0.81–1.03 split (alternating runs of `bench file`). On a Zen 4 machine splitting was faster, so the rule
    // holds unless SmallLayers.SplitOnThisThread (the integer engine measures which way a machine needs).
    internal const long ChannelsLastParallelFlops = 32_000_000;

    /// <summary>Between how many threads a channels-last layer is split.</summary>
    internal static int ChannelsLastParts(Conv2dGeometry g) =>
        g.Flops < ChannelsLastParallelFlops && !SmallLayers.SplitOnThisThread ? 1 : (int)Math.Min(Cpu.Threads, ChannelsLastUnits(g));

    private static void ChannelsLast512(Conv2dGeometry g, byte* x, byte xZeroPoint, sbyte[] weight, int* bias, int* multiplier, int* shift,
        byte yZeroPoint, byte qmin, byte qmax, byte* y)
    {
        int c = g.InChannels;
        var requantizer = new ChannelRequantizer(multiplier, shift, c, yZeroPoint, qmin, qmax, AlignedBuffer.Of(ref t_clScratch, 3 * c));
        int parts = ChannelsLastParts(g);
        if (UsesDots(g))
            Start(new DotsJob(g, x, xZeroPoint, DotWeights(weight, g), bias, requantizer, y) { Parts = parts }, parts);
        else
            Start(new ChannelsLastJob(g, x, xZeroPoint, WeightLanes(weight, c, g.KernelH * g.KernelW, xZeroPoint), bias, requantizer, y) { Parts = parts },
                parts);

        static void Start(IParallelJob job, int parts)
        {
            if (parts <= 1) job.Execute(0);
            else WorkerPool.Run(job, parts);
        }
    }

    // The channels-last kernels' units of work: (image, 16-channel block, output row).
    private static long ChannelsLastUnits(Conv2dGeometry g) => (long)g.Batch * (g.InChannels / BlockLanes) * g.OutHeight;

    /// <summary>Units (image, 16-channel block, output row), part p taking a contiguous run.</summary>
    private sealed class ChannelsLastJob(Conv2dGeometry g, byte* x, byte xZeroPoint, int* lanes, int* bias, ChannelRequantizer requantizer, byte* y)
        : IParallelJob
    {
        public int Parts { get; set; } = 1;

        public void Execute(int part)
        {
            long units = ChannelsLastUnits(g), u0 = units * part / Parts, u1 = units * (part + 1) / Parts;
            int blocks = g.InChannels / BlockLanes;
            int* sums = AlignedBuffer.Of(ref t_clRow, (long)g.OutWidth * BlockLanes);
            var o = g.Options;
            int paddedWidth = g.Width + o.PadLeft + o.PadRight;
            byte* patch = AlignedBuffer.Of(ref t_clPatch, (long)g.KernelH * paddedWidth * BlockLanes);
            for (long u = u0; u < u1; u++)
            {
                int oy = (int)(u % g.OutHeight), block = (int)(u / g.OutHeight % blocks), n = (int)(u / g.OutHeight / blocks);
                int c0 = block * BlockLanes;
                Row(g, x + (long)n * g.InPixels * g.InChannels + c0, xZeroPoint, patch, paddedWidth,
                    lanes + (long)block * g.KernelH * g.KernelW * BlockLanes, bias is null ? Vector512<int>.Zero : Vector512.Load(bias + c0), oy, sums);
                requantizer.Run(sums, BlockLanes, g.OutWidth, c0, BlockLanes, y + ((long)n * g.OutPixels + (long)oy * g.OutWidth) * g.OutChannels + c0,
                    g.OutChannels);
            }
        }
    }

    // sums[ox·16 + i] = start[i] + Σ over the taps inside the image of (x − z_x)·w, channel i of the block at `x` (image n),
    // output row oy, from the window's rows copied into `patch` (padding z_x); four pixels at a time keep four sums.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row(Conv2dGeometry g, byte* x, byte xZeroPoint, byte* patch, int paddedWidth, int* lanes, Vector512<int> start, int oy,
        int* sums)
    {
        var o = g.Options;
        int c = g.InChannels, kw = g.KernelW, ow = g.OutWidth, rows = 0;
        int* weights = stackalloc int[g.KernelH];
        var zero = Vector128.Create(xZeroPoint);
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int iy = oy * o.StrideH - o.PadTop + kh * o.DilationH;
            if ((uint)iy >= (uint)g.Height) continue;
            byte* to = patch + (long)rows * paddedWidth * BlockLanes, from = x + (long)iy * g.Width * c;
            for (int j = 0; j < o.PadLeft; j++) zero.Store(to + j * BlockLanes);
            to += o.PadLeft * BlockLanes;
            for (int ix = 0; ix < g.Width; ix++) Vector128.Load(from + (long)ix * c).Store(to + ix * BlockLanes);
            for (int j = 0; j < o.PadRight; j++) zero.Store(to + (g.Width + j) * BlockLanes);
            weights[rows++] = kh * kw * BlockLanes;
        }
        int step = o.StrideW * BlockLanes, dilation = o.DilationW * BlockLanes, rowBytes = paddedWidth * BlockLanes;
        var one = Vector512.Create(1 << 16);
        int ox = 0;
        for (; ox + 4 <= ow; ox += 4)
        {
            var (a0, a1, a2, a3) = (start, start, start, start);
            for (int r = 0; r < rows; r++)
            {
                byte* p = patch + r * rowBytes + ox * step;
                int* w = lanes + weights[r];
                for (int k = 0; k < kw; k++, p += dilation)
                {
                    var wk = Vector512.Load(w + k * BlockLanes).AsInt16();
                    a0 += Avx512BW.MultiplyAddAdjacent((Avx512F.ConvertToVector512Int32(Vector128.Load(p)) | one).AsInt16(), wk);
                    a1 += Avx512BW.MultiplyAddAdjacent((Avx512F.ConvertToVector512Int32(Vector128.Load(p + step)) | one).AsInt16(), wk);
                    a2 += Avx512BW.MultiplyAddAdjacent((Avx512F.ConvertToVector512Int32(Vector128.Load(p + 2 * step)) | one).AsInt16(), wk);
                    a3 += Avx512BW.MultiplyAddAdjacent((Avx512F.ConvertToVector512Int32(Vector128.Load(p + 3 * step)) | one).AsInt16(), wk);
                }
            }
            int* to = sums + ox * BlockLanes;
            a0.Store(to); a1.Store(to + BlockLanes); a2.Store(to + 2 * BlockLanes); a3.Store(to + 3 * BlockLanes);
        }
        for (; ox < ow; ox++)
        {
            var acc = start;
            for (int r = 0; r < rows; r++)
            {
                byte* p = patch + r * rowBytes + ox * step;
                int* w = lanes + weights[r];
                for (int k = 0; k < kw; k++, p += dilation)
                    acc += Avx512BW.MultiplyAddAdjacent((Avx512F.ConvertToVector512Int32(Vector128.Load(p)) | one).AsInt16(),
                        Vector512.Load(w + k * BlockLanes).AsInt16());
            }
            acc.Store(sums + ox * BlockLanes);
        }
    }
}
