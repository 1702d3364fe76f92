// The int8 convolution on channels-last (NHWC) uint8 images with the emitted zmm vpdpbusd kernels (QConvKernelJitZmm):
//   acc[n, p, o] = Σ_{kh,kw,c} x[n, iy, ix, c]·w[o, c, kh, kw] + bias[o] − z_x·Σ w[o, ·]
// where a tap that leaves the image reads a row of z_x (so its terms cancel with the z_x·Σw of every tap, and
// x − z_x = 0 there, as QConv2dReference pads). Lanes are output channels and each pixel's channels are contiguous,
// so no im2col matrix is made (nor, but for few input channels, a copy of the image): per tile of up to 6 output pixels, an indirection list holds
// one pointer per (tap, pixel) into the input (kept per geometry as byte offsets, −1 for padding), and the kernel runs
// the tile against a block of up to 64 output channels. Channels past C in the last quad of a pixel read the next
// bytes of the image (x must have 3 readable bytes past its end when C % 4 ≠ 0), multiplied by packed weights of 0.
// The tile's int32 sums are requantized (ChannelRequantizer, lanes = channels) into y (N, OH, OW, M), or copied to acc
// (N, OH, OW, M); a residual Add after the layer (QAdd, y = add(codes, other)) can run on each requantized row while it
// is in L1 instead of as a pass of its own. Work units (channel block, image, tile) are claimed by the threads in chunks
// in that order — a block's weights stay in cache across images; each output value is computed whole by one unit, so
// any thread count or claiming order gives the same bits.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Channels-last int8 convolution through the emitted AVX-512 VNNI kernels.</summary>
internal static unsafe class QConv2dNhwc
{
    private const int Rows = QConvKernelJitZmm.MaxRows, BlockChannels = 16 * QConvKernelJitZmm.MaxPanels;

    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static int[]? t_bias, t_shifts;
    [ThreadStatic] private static byte[]? t_zero, t_padded;

    /// <summary>
    /// y (N, OH, OW, M) requantized when <paramref name="y"/> is not null, else int32 sums into <paramref name="acc"/>
    /// (N, OH, OW, M), for x (N, H, W, C); the weight in the (kh, kw, c) order of <see cref="QConv2d.ChannelsLastWeight"/>.
    /// </summary>
    public static void Forward(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc) =>
        Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc, default, null);

    /// <summary>
    /// <see cref="Forward(Conv2dGeometry, byte*, byte, PackedInt8Weights, int*, int*, int*, byte, byte, byte, byte*, int*)"/> with
    /// a residual Add fused after the requantization when <paramref name="other"/> is not null: y then receives
    /// QAdd(conv codes, other) per <paramref name="add"/> instead of the convolution's codes.
    /// </summary>
    public static void Forward(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc, FusedAdd add, byte* other)
    {
        if (g.Batch == 0) return;
        var layout = JitLayout.Of(g, weight);
        int m = g.OutChannels, blocks = (m + BlockChannels - 1) / BlockChannels;
        int* biases = AlignedBuffer.Of(ref t_bias, blocks * BlockChannels);
        var rowSums = weight.RowSums;
        for (int o = 0; o < blocks * BlockChannels; o++)
            biases[o] = o < m ? (bias is null ? 0 : bias[o]) - xZeroPoint * rowSums[o] : 0;
        byte* zero = AlignedBuffer.Of(ref t_zero, 4 * layout.Quads);
        new Span<byte>(zero, 4 * layout.Quads).Fill(xZeroPoint);
        if (layout.Merged) x = PadWidth(g, x, xZeroPoint);
        int units = blocks * g.Batch * layout.Tiles;
        int parts = SplitsBetweenThreads(g) ? Math.Min(Cpu.Threads, units) : 1;
        var job = t_job ??= new Job();
        var requantizer = y is null ? default
            : new ChannelRequantizer(multiplier, shift, m, yZeroPoint, qmin, qmax, AlignedBuffer.Of(ref t_shifts, 3 * blocks * BlockChannels));
        job.Set(g, layout, x, zero, biases, requantizer, y, acc, units, parts);
        job.Fuse(add, other);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    // A layer is split between the threads when it is large and does enough arithmetic per byte of its input and output
    // images: a thread that reads rows another core wrote, or leaves its rows in its own core's cache for the next layer,
    // moves them between the cores, which cost MobileNetV2's first layers (16 → 96 channels at 112²: 27 operations a byte;
    // 24 → 144 and 144 → 24 at 56²: 41) more than the second core saved. MobileNetV2 int8 at batch 1, ORT/Condense in
    // alternating runs (`bench file`): 1.03–1.16 so, 0.96–1.09 with these layers split anyway (in a slower hour of the
    // machine the rule measured worse: 0.83–0.88 against the previous build's 0.88–0.93); DenseNet-121 (100 to 460
    // operations a byte) unchanged, 1.60–1.70. On a Zen 4 machine splitting was faster, so the rule holds unless
    // SmallLayers.SplitOnThisThread (the integer engine measures which way a machine needs).
    internal const int ParallelFlopsPerByte = 64;

    internal static bool SplitsBetweenThreads(Conv2dGeometry g) =>
        g.Flops >= Conv2dKernel.ParallelFlops
        && (SmallLayers.SplitOnThisThread
            || g.Flops >= ParallelFlopsPerByte * (long)g.Batch * ((long)g.InPixels * g.InChannels + (long)g.OutPixels * g.OutChannels));

    // Few input channels (the RGB stem): the kW taps of a kernel row are one tap of kW·C contiguous bytes, read from a copy
    // of the images with the left and right padding written as z_x (rows of W + pL + pR pixels). ResNet's 7×7 stem on 3
    // channels runs 7 taps of 6 quads (21 bytes of 24 used) instead of 49 taps of 1 quad (3 of 4), with 7 pointers per pixel.
    private static bool MergesRows(Conv2dGeometry g) => g.InChannels < 16 && g.Options.DilationW == 1 && g.KernelW > 1;

    private static byte* PadWidth(Conv2dGeometry g, byte* x, byte zero)
    {
        var o = g.Options;
        int c = g.InChannels, row = g.Width * c, paddedRow = (g.Width + o.PadLeft + o.PadRight) * c, rows = g.Batch * g.Height;
        int length = checked(rows * paddedRow + 64);
        byte* padded = AlignedBuffer.Of(ref t_padded, length);
        new Span<byte>(padded, length).Fill(zero);
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<byte>(x + (long)r * row, row).CopyTo(new Span<byte>(padded + (long)r * paddedRow + o.PadLeft * c, row));
        return padded;
    }

    private static int TileCount(int pixels) => (pixels + Rows - 1) / Rows;

    // The pixels split evenly into the tiles (5 or 6 rows each where there are more than 5 per tile): 49 = 4·6 + 5·5, not
    // 8·6 + 1, whose one-row tile loads 4 weight vectors per 4 vpdpbusd.
    private static (int First, int Rows) TileRange(int pixels, int tiles, int tile)
    {
        int first = (int)((long)pixels * tile / tiles);
        return (first, (int)((long)pixels * (tile + 1) / tiles) - first);
    }

    /// <summary>
    /// The weight packed for the kernels and the indirection offsets of one geometry, kept on the weight (rebuilt when
    /// the image size or options change). Block b of 64 channels starts at b·Taps·Quads·256 bytes and holds
    /// [tap][quad][panel][16 channels][4 inputs] for its panels.
    /// </summary>
    private sealed class JitLayout
    {
        public required (int H, int W, int C, int KH, int KW, ConvParameters O) Key { get; init; }
        public required bool Merged { get; init; }
        public required long ImageBytes { get; init; }
        public required int Taps { get; init; }
        public required int Quads { get; init; }
        public required int Tiles { get; init; }
        public required sbyte[] Weights { get; init; }
        public required int[] Offsets { get; init; }   // [tile][tap][row] bytes from the image start, −1 outside (TileRange's tiles)

        public sbyte* WeightPointer => (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Weights));
        public int* OffsetPointer => (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Offsets));

        public static JitLayout Of(Conv2dGeometry g, PackedInt8Weights weight)
        {
            var key = (g.Height, g.Width, g.InChannels, g.KernelH, g.KernelW, g.Options);
            if (weight.DerivedLayout is JitLayout known && known.Key == key) return known;
            bool merged = MergesRows(g);
            int taps = merged ? g.KernelH : g.KernelH * g.KernelW, tapBytes = merged ? g.KernelW * g.InChannels : g.InChannels;
            int quads = (tapBytes + 3) / 4, m = g.OutChannels, pitch = merged ? g.Width + g.Options.PadLeft + g.Options.PadRight : g.Width;
            var layout = new JitLayout
            {
                Key = key, Merged = merged, ImageBytes = (long)g.Height * pitch * g.InChannels, Taps = taps, Quads = quads,
                Tiles = TileCount(g.OutPixels), Weights = Pack(weight, m, tapBytes, taps, quads), Offsets = IndirectionOffsets(g, merged, pitch),
            };
            weight.DerivedLayout = layout;
            return layout;
        }

        // Tap t, byte b of the packed weight is column t·tapBytes + b of the (kh, kw, c) matrix: (kh, kw, c) for single taps,
        // (kh, kw·C + c) for merged rows.
        private static sbyte[] Pack(PackedInt8Weights weight, int m, int tapBytes, int taps, int quads)
        {
            var packed = GC.AllocateArray<sbyte>(((m + 15) / 16 * 16) * taps * quads * 4, pinned: true);
            for (int o = 0; o < m; o++)
            {
                int block = o / BlockChannels, panels = Math.Min(QConvKernelJitZmm.MaxPanels, (m - block * BlockChannels + 15) / 16);
                int panel = o % BlockChannels / 16, lane = o % 16;
                for (int t = 0; t < taps; t++)
                    for (int b = 0; b < tapBytes; b++)
                    {
                        long at = (long)block * taps * quads * BlockChannels * 4 + ((((long)t * quads + b / 4) * panels + panel) * 16 + lane) * 4 + b % 4;
                        packed[at] = weight.At(o, t * tapBytes + b);
                    }
            }
            return packed;
        }

        // Merged rows: one tap per kh at the row's first padded column ox·sW (rows of `pitch` pixels).
        // Tile by tile, in the kernel's pointer order (tap-major): tile t's rows·taps offsets start at first(t)·taps.
        private static int[] IndirectionOffsets(Conv2dGeometry g, bool merged, int pitch)
        {
            var o = g.Options;
            int kernelW = merged ? 1 : g.KernelW, taps = g.KernelH * kernelW, ow = g.OutWidth, tiles = TileCount(g.OutPixels);
            var offsets = GC.AllocateArray<int>(g.OutPixels * taps, pinned: true);
            for (int tile = 0; tile < tiles; tile++)
            {
                var (first, rows) = TileRange(g.OutPixels, tiles, tile);
                for (int i = 0; i < rows; i++)
                    for (int kh = 0, t = 0; kh < g.KernelH; kh++)
                        for (int kw = 0; kw < kernelW; kw++, t++)
                        {
                            int p = first + i, iy = p / ow * o.StrideH - o.PadTop + kh * o.DilationH, ix = p % ow * o.StrideW - o.PadLeft + kw * o.DilationW;
                            bool inside = (uint)iy < (uint)g.Height && (merged || (uint)ix < (uint)g.Width);
                            offsets[first * taps + t * rows + i] = !inside ? -1 : (iy * pitch + (merged ? p % ow * o.StrideW : ix)) * g.InChannels;
                        }
            }
            return offsets;
        }
    }

    // pointers[j] = image + offsets[j], or the row of z_x where offsets[j] < 0; 8 at a time on zmm.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pointers(int* offsets, int count, byte* image, byte* zero, byte** pointers)
    {
        int j = 0;
        var (start, padding) = (Vector512.Create((long)image), Vector512.Create((long)zero));
        for (; j <= count - 8; j += 8)
        {
            var offset = Avx512F.ConvertToVector512Int64(Vector256.Load(offsets + j));
            Vector512.ConditionalSelect(Vector512.LessThan(offset, Vector512<long>.Zero), padding, start + offset).Store((long*)pointers + j);
        }
        for (; j < count; j++) pointers[j] = offsets[j] < 0 ? zero : image + offsets[j];
    }

    /// <summary>Each part claims chunks of consecutive units of the (channel block, image, tile) order until none is left.</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static nint[]? t_pointers;
        [ThreadStatic] private static int[]? t_tile;

        private Conv2dGeometry _g = null!;
        private JitLayout _layout = null!;
        private byte* _x, _zero, _y, _other;
        private FusedAdd _add;
        private int* _bias, _acc;
        private ChannelRequantizer _requantizer;
        private int _units, _chunk, _next;

        public void Set(Conv2dGeometry g, JitLayout layout, byte* x, byte* zero, int* bias, ChannelRequantizer requantizer, byte* y, int* acc,
            int units, int parts)
        {
            (_g, _layout, _requantizer, _units, _next) = (g, layout, requantizer, units, 0);
            // About 32 chunks per part: a thread the OS runs late (a busy machine) leaves its share to the others.
            _chunk = Math.Max(1, units / (32 * parts));
            _x = x; _zero = zero; _y = y; _bias = bias; _acc = acc;
        }

        public void Fuse(FusedAdd add, byte* other) { _add = add; _other = other; }

        public void Clear() { _x = _zero = _y = _other = null; _bias = _acc = null; _requantizer = default; _g = null!; _layout = null!; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var (g, l) = (_g, _layout);
            int m = g.OutChannels, pixels = g.OutPixels, taps = l.Taps, tiles = l.Tiles, images = g.Batch;
            byte** pointers = (byte**)AlignedBuffer.Of(ref t_pointers, taps * Rows);
            int* tile = AlignedBuffer.Of(ref t_tile, Rows * BlockChannels), offsets = l.OffsetPointer;
            byte* codes = stackalloc byte[Rows * BlockChannels];
            var (add, requantizer) = (_add, _requantizer);
            long imageBytes = l.ImageBytes, blockBytes = (long)taps * l.Quads * BlockChannels * 4;
            var args = new QConvKernelJitZmm.Args
            {
                Pointers = pointers, Taps = taps, QuadBytes = 4 * l.Quads, NegativeQuadBytes = -4 * l.Quads, Output = tile,
                Ldc = BlockChannels * sizeof(int),
            };
            for (int u0; (u0 = Interlocked.Add(ref _next, _chunk) - _chunk) < _units;)
            for (int u = u0; u < Math.Min(u0 + _chunk, _units); u++)
            {
                int block = u / (images * tiles), n = u / tiles % images;
                var (first, rows) = TileRange(pixels, tiles, u % tiles);
                int co = block * BlockChannels, width = Math.Min(BlockChannels, m - co);
                Pointers(offsets + first * taps, rows * taps, _x + n * imageBytes, _zero, pointers);
                args.Weights = l.WeightPointer + block * blockBytes;
                args.Bias = _bias + co;
                QConvKernelJitZmm.Run(rows, (width + 15) / 16, &args);
                long output = ((long)n * pixels + first) * m + co;
                if (_other is not null)
                {
                    requantizer.Run(tile, BlockChannels, rows, co, width, codes, BlockChannels);
                    QAdd.Rows(KernelPath.Avx512, codes, BlockChannels, add.ConvZeroPoint, add.MultiplierConv, _other + output, m, add.OtherZeroPoint,
                        add.MultiplierOther, add.Shift, add.ZeroPoint, add.QMin, _y + output, rows, width);
                }
                else if (_y is not null)
                    requantizer.Run(tile, BlockChannels, rows, co, width, _y + output, m);
                else
                    for (int i = 0; i < rows; i++, output += m)
                        new ReadOnlySpan<int>(tile + i * BlockChannels, width).CopyTo(new Span<int>(_acc + output, width));
            }
        }
    }
}
