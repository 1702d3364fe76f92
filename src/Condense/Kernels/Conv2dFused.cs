// The fast convolution driver over the tile kernels of ConvMicroKernel*.cs, forward and weight gradient.
// Orientation: output channels are the tile's few rows and output pixels its vector lanes, so LeNet's
// 6 or 16 channels waste no lanes; the weights are packed once per call and the im2col matrix is
// gathered tile by tile straight into the kernel's panel (Im2ColPanel.cs), so it never exists in full.
//   forward      y[n, g][rows, tile]  = w_g[rows, :] · col[:, tile] (+ bias), K blocked by KC
//   weight grad  dw_g[rows, slab]    += dy[n, g][rows, :] · col[slab, :]ᵀ, the pixels blocked by KC
// The forward pass splits (image, group, pixel tile) items over the threads; every output element is one
// item's, so the bits never depend on the thread count. The weight gradient sums over images: images are
// grouped into chunks of Conv2dKernel.WeightChunk whatever the thread count, each chunk sums in order into its
// own partial, and the items are (chunk, slab of patch rows), so again no element's sum depends on threads.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Condense.Kernels;

/// <summary>Forward convolution and weight gradient on one tile kernel.</summary>
internal static unsafe class Conv2dFused<TKernel> where TKernel : struct, IConvKernel
{
    /// <summary>K block: a KC×NR panel (36 KiB at NR = 48) stays in the 48 KiB L1 while the rows sweep it.</summary>
    internal const int KC = 192;

    [ThreadStatic] private static ForwardJob? t_forward;
    [ThreadStatic] private static WeightJob? t_weight;
    [ThreadStatic] private static float[]? t_packedWeights;

    /// <summary>
    /// y (N, M, OH, OW) = conv(x, w) + b, or y += conv(x, w) when <paramref name="accumulate"/> (then b is null).
    /// </summary>
    public static void Forward(Conv2dGeometry g, float* x, float* w, float* bias, float* y, bool accumulate, int threads)
    {
        float* packed = PackWeights(g, w);
        int tiles = (g.OutPixels + TKernel.NR - 1) / TKernel.NR;
        long items = (long)g.Batch * g.Groups * tiles;
        if (items == 0) return;
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? threads : 1, items);
        var job = t_forward ??= new ForwardJob();
        job.Set(g, x, packed, bias, y, accumulate, items, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>
    /// Each group's weight (M/g × K) as row panels of up to MaxRows channels: the panel at row r holds
    /// a[p·rows + i] = w[r + i, p], so its K block at pc starts at r·K + pc·rows. Valid until the thread's next call.
    /// </summary>
    public static float* PackWeights(Conv2dGeometry g, float* w)
    {
        int k = g.ColumnRows, mg = g.OutPerGroup;
        float* packed = Buffer(ref t_packedWeights, (long)g.OutChannels * k);
        for (int group = 0; group < g.Groups; group++)
            for (int r = 0; r < mg; r += TKernel.MaxRows)
            {
                int rows = Math.Min(TKernel.MaxRows, mg - r);
                GemmPack.PackA(false, w + (long)group * mg * k, k, r, 0, rows, k, rows, packed + ((long)group * mg + r) * k);
            }
        return packed;
    }

    /// <summary>
    /// The weight gradient, chunk by chunk: chunk 0 into dw (added to when <paramref name="accumulate"/>), chunk
    /// c ≥ 1 overwriting partials[(c − 1)·M·K ..]. The caller adds the partials in order.
    /// </summary>
    public static void WeightGrad(Conv2dGeometry g, float* x, float* dy, float* dw, float* partials, bool accumulate, int threads)
    {
        int chunks = (g.Batch + Conv2dKernel.WeightChunk - 1) / Conv2dKernel.WeightChunk;
        int slabs = (g.ColumnRows + TKernel.NR - 1) / TKernel.NR;
        long items = (long)chunks * g.Groups * slabs;
        if (items == 0) return;
        int parts = (int)Math.Min(g.Flops >= Conv2dKernel.ParallelFlops ? threads : 1, items);
        var job = t_weight ??= new WeightJob();
        job.Set(g, x, dy, dw, partials, accumulate, items, slabs, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>
    /// One tile: c (rows × cols of C, row stride ldc) from <see cref="IConvKernel.Run"/>; a ragged tile
    /// (cols &lt; NR) runs in a stack tile whose valid corner is copied in and out, so its sums are the same chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(int rows, int k, float* a, float* b, float* c, int ldc, int cols, float* bias, bool accumulate)
    {
        if (cols == TKernel.NR) { TKernel.Run(rows, k, a, b, c, ldc, bias, accumulate); return; }
        RaggedTile(rows, k, a, b, c, ldc, cols, bias, accumulate);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RaggedTile(int rows, int k, float* a, float* b, float* c, int ldc, int cols, float* bias, bool accumulate)
    {
        int nr = TKernel.NR;
        float* tile = stackalloc float[TKernel.MaxRows * nr];
        if (accumulate)
            for (int i = 0; i < rows; i++) Unsafe.CopyBlockUnaligned(tile + i * nr, c + (long)i * ldc, (uint)(cols * sizeof(float)));
        TKernel.Run(rows, k, a, b, tile, nr, bias, accumulate);
        for (int i = 0; i < rows; i++) Unsafe.CopyBlockUnaligned(c + (long)i * ldc, tile + i * nr, (uint)(cols * sizeof(float)));
    }

    internal static float* Buffer(ref float[]? buffer, long count)
    {
        // 16 spare floats let the start move up to the next cache line.
        if (buffer is null || buffer.Length < count + 16)
            buffer = GC.AllocateUninitializedArray<float>(checked((int)count + 16), pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nint)63);
    }

    /// <summary>Forward items (image, group, pixel tile), numbered in that order; part p takes a contiguous run.</summary>
    private sealed class ForwardJob : IParallelJob
    {
        [ThreadStatic] private static float[]? t_panel;

        private Conv2dGeometry _g = null!;
        private float* _x, _w, _bias, _y;
        private bool _accumulate;
        private long _items;
        private int _parts;

        public void Set(Conv2dGeometry g, float* x, float* w, float* bias, float* y, bool accumulate, long items, int parts)
        {
            (_g, _accumulate, _items, _parts) = (g, accumulate, items, parts);
            _x = x; _w = w; _bias = bias; _y = y;
        }

        public void Clear() { _x = _w = _bias = _y = null; _g = null!; }

        public void Execute(int part)
        {
            var g = _g;
            int k = g.ColumnRows, mg = g.OutPerGroup, pixels = g.OutPixels, nr = TKernel.NR;
            int tiles = (pixels + nr - 1) / nr;
            long i0 = _items * part / _parts, i1 = _items * (part + 1) / _parts;
            float* panel = Buffer(ref t_panel, (long)Math.Min(k, KC) * nr);
            for (long item = i0; item < i1; item++)
            {
                int tile = (int)(item % tiles);
                long imageGroup = item / tiles;
                int group = (int)(imageGroup % g.Groups), n = (int)(imageGroup / g.Groups);
                float* image = _x + ((long)n * g.InChannels + (long)group * g.InPerGroup) * g.InPixels;
                float* output = _y + ((long)n * g.OutChannels + (long)group * mg) * pixels;
                int j0 = tile * nr, cols = Math.Min(nr, pixels - j0);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    Im2ColPanel.Pack(g, image, pc, kc, j0, cols, nr, panel);
                    for (int r = 0; r < mg; r += TKernel.MaxRows)
                    {
                        int rows = Math.Min(TKernel.MaxRows, mg - r);
                        float* a = _w + ((long)group * mg + r) * k + (long)pc * rows;
                        float* bias = _bias is null ? null : _bias + group * mg + r;
                        Tile(rows, kc, a, panel, output + (long)r * pixels + j0, pixels, cols, bias, _accumulate || pc > 0);
                    }
                }
            }
        }
    }

    /// <summary>Weight-gradient items (chunk, group, slab of NR patch rows); part p takes a contiguous run.</summary>
    private sealed class WeightJob : IParallelJob
    {
        [ThreadStatic] private static float[]? t_slab, t_panel, t_dy;

        private Conv2dGeometry _g = null!;
        private float* _x, _dy, _dw, _partials;
        private bool _accumulate;
        private long _items;
        private int _slabs, _parts;

        public void Set(Conv2dGeometry g, float* x, float* dy, float* dw, float* partials, bool accumulate, long items, int slabs, int parts)
        {
            (_g, _accumulate, _items, _slabs, _parts) = (g, accumulate, items, slabs, parts);
            _x = x; _dy = dy; _dw = dw; _partials = partials;
        }

        public void Clear() { _x = _dy = _dw = _partials = null; _g = null!; }

        public void Execute(int part)
        {
            var g = _g;
            int k = g.ColumnRows, mg = g.OutPerGroup, pixels = g.OutPixels, nr = TKernel.NR;
            long i0 = _items * part / _parts, i1 = _items * (part + 1) / _parts;
            // The slab: NR rows of the im2col matrix over all pixels (transposed into KC-pixel panels), and dy_g packed as rows.
            float* slab = Buffer(ref t_slab, (long)nr * pixels);
            float* panel = Buffer(ref t_panel, (long)Math.Min(pixels, KC) * nr);
            float* packedDy = Buffer(ref t_dy, (long)mg * pixels);
            for (long item = i0; item < i1; item++)
            {
                int s = (int)(item % _slabs);
                long chunkGroup = item / _slabs;
                int group = (int)(chunkGroup % g.Groups), chunk = (int)(chunkGroup / g.Groups);
                int row0 = s * nr, cols = Math.Min(nr, k - row0);
                float* target = (chunk == 0 ? _dw : _partials + (long)(chunk - 1) * g.OutChannels * k) + (long)group * mg * k + row0;
                int n0 = chunk * Conv2dKernel.WeightChunk, n1 = Math.Min(g.Batch, n0 + Conv2dKernel.WeightChunk);
                for (int n = n0; n < n1; n++)
                {
                    float* image = _x + ((long)n * g.InChannels + (long)group * g.InPerGroup) * g.InPixels;
                    float* dOutput = _dy + ((long)n * g.OutChannels + (long)group * mg) * pixels;
                    Im2ColPanel.Pack(g, image, row0, cols, 0, pixels, pixels, slab);
                    for (int r = 0; r < mg; r += TKernel.MaxRows)
                    {
                        int rows = Math.Min(TKernel.MaxRows, mg - r);
                        GemmPack.PackA(false, dOutput, pixels, r, 0, rows, pixels, rows, packedDy + (long)r * pixels);
                    }
                    for (int pc = 0; pc < pixels; pc += KC)
                    {
                        int kc = Math.Min(KC, pixels - pc);
                        // panel[p·NR + j] = col[row0 + j, pc + p]: the slab transposed, zero past cols.
                        GemmPack.PackB(true, TKernel.Path != KernelPath.Scalar, slab, pixels, pc, 0, kc, cols, nr, panel);
                        bool add = n > n0 || pc > 0 || (chunk == 0 && _accumulate);
                        for (int r = 0; r < mg; r += TKernel.MaxRows)
                        {
                            int rows = Math.Min(TKernel.MaxRows, mg - r);
                            Tile(rows, kc, packedDy + (long)r * pixels + (long)pc * rows, panel, target + (long)r * k, k, cols, null, add);
                        }
                    }
                }
            }
        }
    }
}
