// The channels-last int8 depthwise convolution with VNNI dot products (AVX-VNNI vpdpbusd): each instruction adds, for 8
// channels, the products of 4 consecutive taps of a kernel row — where the vpmaddwd kernel (QDepthwiseConv2d.ChannelsLast.cs)
// widens every tap of every pixel and adds one product per lane. For that the input row is first "expanded": column j
// holds, for each of the block's 16 channels, the codes of pixels j, j+1, j+2, j+3 side by side (64 bytes; one VBMI byte
// permute of the 64 bytes at pixel j of the padded row, which is a 4 × 16 transpose), so that the taps 4g .. 4g+3 of
// output pixel ox of a kernel row are the 64 bytes at column ox·sW + 4g, multiplied by the weights [w(kw = 4g + k)]
// (0 past kW). MobileNet's 3×3 layers take one dot product per kernel row and 8 channels (6 per pixel of 16 channels
// instead of 9 widenings and 9 vpmaddwd), EfficientNet's 5×5 two. The input zero point is taken out once per output row:
// Σ (x − z_x)·w = Σ x·w − z_x·Σ w over the kernel rows inside the image, the padding columns holding z_x (their terms
// cancel, as QConv2dReference pads) and the rows above or below the image skipped. An input row is expanded once per
// run of output rows that reads it (a ring of the window's rows, tagged by image, block and row), not once per output
// row. Dilation along the width keeps the vpmaddwd kernel. The same integers as the other forms (QConv2dReference.cs is
// the spec), for any thread count.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

public static unsafe partial class QDepthwiseConv2d
{
    private const int DotTaps = 4, ExpandedColumn = DotTaps * BlockLanes;

    [ThreadStatic] private static bool? t_forceDots;
    [ThreadStatic] private static byte[]? t_dotRing, t_dotPatch;
    [ThreadStatic] private static long[]? t_dotTags;

    /// <summary>
    /// Forces the dot-product kernel off (false) for tests and benchmarks, so that the vpmaddwd kernel runs the shapes it
    /// would take; null or true: wherever it can. Per thread, as <see cref="ForceLanes"/>.
    /// </summary>
    internal static bool? ForceDots { get => t_forceDots; set => t_forceDots = value; }

    /// <summary>The dot-product form: AVX-VNNI and VBMI, no dilation along the width (checked after UsesChannelsLast512).</summary>
    private static bool UsesDots(Conv2dGeometry g) =>
        AvxVnni.IsSupported && Avx512Vbmi.IsSupported && g.Options.DilationW == 1 && (ForceDots ?? true);

    /// <summary>The weights as dot products and their row sums, made once per weight array (it never changes after compilation).</summary>
    private sealed class PreparedDots(int kernelH, int kernelW, int channels)
    {
        public int KernelH { get; } = kernelH;
        public int KernelW { get; } = kernelW;
        public int Groups { get; } = (kernelW + DotTaps - 1) / DotTaps;
        // [block][kh][group][16 channels][4 taps], 0 past kW; read through its first 64-byte boundary.
        public sbyte[] Weights { get; } = GC.AllocateArray<sbyte>(channels * kernelH * ((kernelW + DotTaps - 1) / DotTaps) * DotTaps + 64, pinned: true);
        // [block][kh][16 channels]: Σ over kw of the row's weights.
        public int[] RowSums { get; } = GC.AllocateArray<int>(channels * kernelH + 16, pinned: true);
    }

    private static readonly ConditionalWeakTable<sbyte[], PreparedDots> s_preparedDots = new();

    private static PreparedDots DotWeights(sbyte[] weight, Conv2dGeometry g)
    {
        if (s_preparedDots.TryGetValue(weight, out var known) && known.KernelH == g.KernelH && known.KernelW == g.KernelW) return known;
        int c = g.InChannels, kh = g.KernelH, kw = g.KernelW;
        var prepared = new PreparedDots(kh, kw, c);
        sbyte* weights = AlignedBuffer.Start(prepared.Weights);
        int groups = prepared.Groups;
        for (int channel = 0; channel < c; channel++)
        {
            int block = channel / BlockLanes, lane = channel % BlockLanes;
            for (int r = 0; r < kh; r++)
            {
                int sum = 0;
                for (int k = 0; k < kw; k++)
                {
                    sbyte v = weight[(channel * kh + r) * kw + k];
                    weights[(((long)block * kh + r) * groups + k / DotTaps) * ExpandedColumn + lane * DotTaps + k % DotTaps] = v;
                    sum += v;
                }
                prepared.RowSums[((long)block * kh + r) * BlockLanes + lane] = sum;
            }
        }
        s_preparedDots.AddOrUpdate(weight, prepared);
        return prepared;
    }

    /// <summary>Units (image, 16-channel block, output row) as ChannelsLastJob, claimed by the parts in runs of rows.</summary>
    private sealed class DotsJob(Conv2dGeometry g, byte* x, byte xZeroPoint, PreparedDots dots, int* bias, ChannelRequantizer requantizer, byte* y)
        : IParallelJob
    {
        public int Parts { get; set; } = 1;
        private long _next;

        // Expanded columns j = ox·sW + 4·group read; the padded row must hold 3 pixels past the last.
        private int Columns => (g.OutWidth - 1) * g.Options.StrideW + DotTaps * (dots.Groups - 1) + 1;

        // The window's rows are distinct modulo its span, so one window never evicts its own rows.
        private int RingRows => (g.KernelH - 1) * g.Options.DilationH + 1;

        public void Execute(int part)
        {
            long units = ChannelsLastUnits(g);
            int blocks = g.InChannels / BlockLanes, columns = Columns, ring = RingRows;
            int* sums = AlignedBuffer.Of(ref t_clRow, (long)g.OutWidth * BlockLanes);
            byte* patch = AlignedBuffer.Of(ref t_dotPatch, (long)(columns + DotTaps) * BlockLanes + 64);
            byte* expanded = AlignedBuffer.Of(ref t_dotRing, (long)ring * columns * ExpandedColumn);
            var tags = t_dotTags is { } known && known.Length >= ring ? known : t_dotTags = new long[ring];
            Array.Fill(tags, -1L);
            // Runs of rows claimed in turn (a worker the OS runs late leaves its share to the others); a run shares its
            // expanded rows, so runs are long: an eighth of a part's share, at least 4 rows.
            long run = Math.Max(4, units / (8 * Parts));
            for (long u = 0, end = 0; ; u++)
            {
                if (u >= end)
                {
                    u = Interlocked.Add(ref _next, run) - run;
                    if (u >= units) break;
                    end = Math.Min(units, u + run);
                }
                int oy = (int)(u % g.OutHeight), block = (int)(u / g.OutHeight % blocks), n = (int)(u / g.OutHeight / blocks);
                int c0 = block * BlockLanes;
                Row(n, block, oy, columns, ring, patch, expanded, tags, sums);
                requantizer.Run(sums, BlockLanes, g.OutWidth, c0, BlockLanes, y + ((long)n * g.OutPixels + (long)oy * g.OutWidth) * g.OutChannels + c0,
                    g.OutChannels);
            }
        }

        // sums[ox·16 + i] for output row oy of the block: the start (bias − z_x·Σ of the rows inside the image) plus a dot
        // product per kernel row inside the image, group and 8 channels; four pixels at a time.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Row(int n, int block, int oy, int columns, int ring, byte* patch, byte* expanded, long[] tags, int* sums)
        {
            var o = g.Options;
            int kh = g.KernelH, groups = dots.Groups, ow = g.OutWidth, step = o.StrideW * ExpandedColumn, rows = 0;
            byte** rowData = stackalloc byte*[kh];
            sbyte** rowWeights = stackalloc sbyte*[kh];
            sbyte* weights = AlignedBuffer.Start(dots.Weights);
            var (low, high) = bias is null ? (Vector256<int>.Zero, Vector256<int>.Zero)
                : (Vector256.Load(bias + block * BlockLanes), Vector256.Load(bias + block * BlockLanes + 8));
            fixed (int* rowSums = dots.RowSums)
                for (int r = 0; r < kh; r++)
                {
                    int iy = oy * o.StrideH - o.PadTop + r * o.DilationH;
                    if ((uint)iy >= (uint)g.Height) continue;
                    int slot = iy % ring;
                    long tag = ((long)n * (g.InChannels / BlockLanes) + block) * g.Height + iy;
                    byte* data = expanded + (long)slot * columns * ExpandedColumn;
                    if (tags[slot] != tag) { Expand(n, block, iy, columns, patch, data); tags[slot] = tag; }
                    rowData[rows] = data;
                    rowWeights[rows++] = weights + ((long)block * kh + r) * groups * ExpandedColumn;
                    int* sum = rowSums + ((long)block * kh + r) * BlockLanes;
                    low -= Vector256.Load(sum) * xZeroPoint;
                    high -= Vector256.Load(sum + 8) * xZeroPoint;
                }
            int ox = g.KernelH == 3 && groups == 1 ? ThreeRows(rows, rowData, rowWeights, low, high, ow, step, sums) : 0;
            for (; ox + 4 <= ow; ox += 4)
            {
                Vector256<int> l0 = low, h0 = high, l1 = low, h1 = high, l2 = low, h2 = high, l3 = low, h3 = high;
                for (int r = 0; r < rows; r++)
                    for (int gi = 0; gi < groups; gi++)
                    {
                        byte* p = rowData[r] + (long)ox * step + gi * DotTaps * ExpandedColumn;
                        var wl = Vector256.Load(rowWeights[r] + gi * ExpandedColumn);
                        var wh = Vector256.Load(rowWeights[r] + gi * ExpandedColumn + 32);
                        l0 = AvxVnni.MultiplyWideningAndAdd(l0, Vector256.Load(p), wl);
                        h0 = AvxVnni.MultiplyWideningAndAdd(h0, Vector256.Load(p + 32), wh);
                        l1 = AvxVnni.MultiplyWideningAndAdd(l1, Vector256.Load(p + step), wl);
                        h1 = AvxVnni.MultiplyWideningAndAdd(h1, Vector256.Load(p + step + 32), wh);
                        l2 = AvxVnni.MultiplyWideningAndAdd(l2, Vector256.Load(p + 2 * step), wl);
                        h2 = AvxVnni.MultiplyWideningAndAdd(h2, Vector256.Load(p + 2 * step + 32), wh);
                        l3 = AvxVnni.MultiplyWideningAndAdd(l3, Vector256.Load(p + 3 * step), wl);
                        h3 = AvxVnni.MultiplyWideningAndAdd(h3, Vector256.Load(p + 3 * step + 32), wh);
                    }
                int* to = sums + ox * BlockLanes;
                l0.Store(to); h0.Store(to + 8); l1.Store(to + 16); h1.Store(to + 24);
                l2.Store(to + 32); h2.Store(to + 40); l3.Store(to + 48); h3.Store(to + 56);
            }
            for (; ox < ow; ox++)
            {
                var (l, h) = (low, high);
                for (int r = 0; r < rows; r++)
                    for (int gi = 0; gi < groups; gi++)
                    {
                        byte* p = rowData[r] + (long)ox * step + gi * DotTaps * ExpandedColumn;
                        l = AvxVnni.MultiplyWideningAndAdd(l, Vector256.Load(p), Vector256.Load(rowWeights[r] + gi * ExpandedColumn));
                        h = AvxVnni.MultiplyWideningAndAdd(h, Vector256.Load(p + 32), Vector256.Load(rowWeights[r] + gi * ExpandedColumn + 32));
                    }
                l.Store(sums + ox * BlockLanes);
                h.Store(sums + ox * BlockLanes + 8);
            }
        }

        // Row's four-pixel loop for a kernel of 3 rows and at most 4 columns (MobileNet's 3×3), with the three rows' pointers
        // and weights held in registers; a row outside the image reads row 0 against weights of 0. Returns the pixels done.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int ThreeRows(int rows, byte** rowData, sbyte** rowWeights, Vector256<int> low, Vector256<int> high, int ow, int step,
            int* sums)
        {
            if (rows == 0) return 0;
            byte* p0 = rowData[0], p1 = rows > 1 ? rowData[1] : p0, p2 = rows > 2 ? rowData[2] : p0;
            var w0l = Vector256.Load(rowWeights[0]);
            var w0h = Vector256.Load(rowWeights[0] + 32);
            var (w1l, w1h) = rows > 1 ? (Vector256.Load(rowWeights[1]), Vector256.Load(rowWeights[1] + 32)) : (default, default);
            var (w2l, w2h) = rows > 2 ? (Vector256.Load(rowWeights[2]), Vector256.Load(rowWeights[2] + 32)) : (default, default);
            int ox = 0;
            for (; ox + 4 <= ow; ox += 4, p0 += 4 * step, p1 += 4 * step, p2 += 4 * step)
            {
                Vector256<int> l0 = low, h0 = high, l1 = low, h1 = high, l2 = low, h2 = high, l3 = low, h3 = high;
                l0 = AvxVnni.MultiplyWideningAndAdd(l0, Vector256.Load(p0), w0l);
                h0 = AvxVnni.MultiplyWideningAndAdd(h0, Vector256.Load(p0 + 32), w0h);
                l1 = AvxVnni.MultiplyWideningAndAdd(l1, Vector256.Load(p0 + step), w0l);
                h1 = AvxVnni.MultiplyWideningAndAdd(h1, Vector256.Load(p0 + step + 32), w0h);
                l2 = AvxVnni.MultiplyWideningAndAdd(l2, Vector256.Load(p0 + 2 * step), w0l);
                h2 = AvxVnni.MultiplyWideningAndAdd(h2, Vector256.Load(p0 + 2 * step + 32), w0h);
                l3 = AvxVnni.MultiplyWideningAndAdd(l3, Vector256.Load(p0 + 3 * step), w0l);
                h3 = AvxVnni.MultiplyWideningAndAdd(h3, Vector256.Load(p0 + 3 * step + 32), w0h);
                l0 = AvxVnni.MultiplyWideningAndAdd(l0, Vector256.Load(p1), w1l);
                h0 = AvxVnni.MultiplyWideningAndAdd(h0, Vector256.Load(p1 + 32), w1h);
                l1 = AvxVnni.MultiplyWideningAndAdd(l1, Vector256.Load(p1 + step), w1l);
                h1 = AvxVnni.MultiplyWideningAndAdd(h1, Vector256.Load(p1 + step + 32), w1h);
                l2 = AvxVnni.MultiplyWideningAndAdd(l2, Vector256.Load(p1 + 2 * step), w1l);
                h2 = AvxVnni.MultiplyWideningAndAdd(h2, Vector256.Load(p1 + 2 * step + 32), w1h);
                l3 = AvxVnni.MultiplyWideningAndAdd(l3, Vector256.Load(p1 + 3 * step), w1l);
                h3 = AvxVnni.MultiplyWideningAndAdd(h3, Vector256.Load(p1 + 3 * step + 32), w1h);
                l0 = AvxVnni.MultiplyWideningAndAdd(l0, Vector256.Load(p2), w2l);
                h0 = AvxVnni.MultiplyWideningAndAdd(h0, Vector256.Load(p2 + 32), w2h);
                l1 = AvxVnni.MultiplyWideningAndAdd(l1, Vector256.Load(p2 + step), w2l);
                h1 = AvxVnni.MultiplyWideningAndAdd(h1, Vector256.Load(p2 + step + 32), w2h);
                l2 = AvxVnni.MultiplyWideningAndAdd(l2, Vector256.Load(p2 + 2 * step), w2l);
                h2 = AvxVnni.MultiplyWideningAndAdd(h2, Vector256.Load(p2 + 2 * step + 32), w2h);
                l3 = AvxVnni.MultiplyWideningAndAdd(l3, Vector256.Load(p2 + 3 * step), w2l);
                h3 = AvxVnni.MultiplyWideningAndAdd(h3, Vector256.Load(p2 + 3 * step + 32), w2h);
                int* to = sums + ox * BlockLanes;
                l0.Store(to); h0.Store(to + 8); l1.Store(to + 16); h1.Store(to + 24);
                l2.Store(to + 32); h2.Store(to + 40); l3.Store(to + 48); h3.Store(to + 56);
            }
            return ox;
        }

        // Input row iy of the block padded with z_x (16 bytes a pixel, 3 pixels past the last column read), then each column
        // read expanded into the 4 × 16 transpose of the 64 bytes at it: byte 4c + k = channel c of pixel j + k.
        private void Expand(int n, int block, int iy, int columns, byte* patch, byte* to)
        {
            var o = g.Options;
            int c = g.InChannels, width = g.Width, padded = columns + DotTaps - 1;
            var zero = Vector128.Create(xZeroPoint);
            byte* from = x + ((long)n * g.InPixels + (long)iy * width) * c + block * BlockLanes;
            int left = Math.Min(o.PadLeft, padded);
            for (int j = 0; j < left; j++) zero.Store(patch + j * BlockLanes);
            int inside = Math.Clamp(padded - o.PadLeft, 0, width);
            for (int ix = 0; ix < inside; ix++) Vector128.Load(from + (long)ix * c).Store(patch + (o.PadLeft + ix) * BlockLanes);
            for (int j = o.PadLeft + inside; j < padded; j++) zero.Store(patch + j * BlockLanes);
            var transpose = s_transposeIndex;
            int s = o.StrideW;
            if (s == 1 || dots.Groups == 1)   // every column, or the columns ox·sW
                for (int j = 0; j < columns; j += s)
                    Avx512Vbmi.PermuteVar64x8(Vector512.Load(patch + j * BlockLanes), transpose).Store(to + (long)j * ExpandedColumn);
            else
                for (int gi = 0; gi < dots.Groups; gi++)
                    for (int j = gi * DotTaps; j < columns; j += s)
                        Avx512Vbmi.PermuteVar64x8(Vector512.Load(patch + j * BlockLanes), transpose).Store(to + (long)j * ExpandedColumn);
        }
    }

    // byte 4c + k of the expanded column ← byte 16k + c of the four pixels.
    private static readonly Vector512<byte> s_transposeIndex =
        Vector512.Create([.. Enumerable.Range(0, 64).Select(i => (byte)(i % DotTaps * BlockLanes + i / DotTaps))]);
}
