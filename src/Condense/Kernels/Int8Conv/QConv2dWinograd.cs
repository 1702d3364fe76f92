// The 3×3 stride-1 int8 convolution as integer Winograd F(2×2, 3×3) (QWinogradTransforms.cs says why it is exact), for
// CPUs whose int8 dot product runs at vpmaddwd's rate (AVX2 without VNNI: Int8Dot.Pairs and MaddubsQuads). There a
// direct convolution needs one multiply µop per 16 multiply-adds, the fp32 FMA's rate; Winograd does a 2×2 output tile
// in 16 int16 products instead of 36, so the same µops cover 2.25 times the work, less the transforms. With vpdpbusd's
// 32 or 64 multiply-adds per µop (VNNI) it would gain nothing, so it is not used there.
// Work units are blocks of tile rows (of any images), sized so a block's transformed inputs V and products M fit in
// L2; per block: the input transform of every channel pair, 16 GEMMs (one per ξ, QWinogradGemm), the output transform
// per output channel and tile row, then requantization of the finished rows. Each output value is computed whole by
// one unit, so any thread count gives the same bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Integer Winograd F(2×2, 3×3) for 3×3 stride-1 int8 convolutions on AVX2.</summary>
internal static unsafe partial class QConv2dWinograd
{
    /// <summary>The most input channels whose sums stay exact (|acc| &lt; 2²⁹ for 9 taps of 255·128 each).</summary>
    public const int MaxInChannels = 1827;

    // What a block's V (16 × pairs × tiles int32) and M (16 × rows × tiles int32) may take: measured on 512 KB of L2 per core,
    // 1 MB ran the ResNet-18 layers 0–15 % faster than 512 KB (fewer passes over U, fewer ragged strips) and no slower than 2 MB.
    private const int BlockBytes = 1024 * 1024;

    [ThreadStatic] private static bool? t_forced;
    [ThreadStatic] private static Job? t_job;

    /// <summary>
    /// Makes the calling thread's 3×3 stride-1 convolutions use Winograd whenever the shape allows (true) or never
    /// (false), whatever the dot product, until the result is disposed (tests run both).
    /// </summary>
    internal static IDisposable Force(bool on)
    {
        var previous = t_forced;
        t_forced = on;
        return new Cpu.Restore(() => t_forced = previous);
    }

    /// <summary>Whether <see cref="Forward"/> runs <paramref name="g"/> on this path and dot product.</summary>
    public static bool Suits(Conv2dGeometry g, KernelPath path, Int8Dot dot)
    {
        var o = g.Options;
        bool shape = g.KernelH == 3 && g.KernelW == 3 && o.StrideH == 1 && o.StrideW == 1 && o.DilationH == 1 && o.DilationW == 1
            && g.Groups == 1 && g.InChannels <= MaxInChannels && g.OutPixels > 0;
        if (!shape || path == KernelPath.Scalar || !Avx2.IsSupported || t_forced == false) return false;
        if (t_forced == true) return true;
        // Below 16 channels either way the transforms cost about what the products save (bench qconv: 16 → 16 at 28×28 1.01×
        // the direct kernels); and small images waste tiles (7×7 outputs fill 49 of 64 tile positions): 64 → 64 channels
        // at 7×7 ran 0.91× the direct kernels, 512 → 512 1.8×, so there the transforms must be cheap beside the products.
        bool wide = g.InChannels >= 16 && g.OutChannels >= 16;
        double filled = g.OutPixels / (4.0 * ((g.OutHeight + 1) / 2) * ((g.OutWidth + 1) / 2));
        return (dot == Int8Dot.Pairs || dot == Int8Dot.MaddubsQuads) && wide && (filled >= 0.85 || g.InChannels * g.OutChannels >= 128 * 128);
    }

    /// <summary>QConv2d's Run for a shape <see cref="Suits"/> accepts: requantized into y, or int32 sums into acc.</summary>
    public static void Forward(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        if (g.Batch == 0) return;
        var u = TransformedWeights.Of(weight);
        var plan = Plan.Of(g, u);
        int parts = g.Flops >= Conv2dKernel.ParallelFlops ? Math.Min(Cpu.Threads, plan.Blocks * plan.Groups) : 1;
        var job = t_job ??= new Job();
        job.Set(g, plan, u, x, xZeroPoint, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>
    /// U = (2G) g (2G)ᵀ of every (o, c), int16 pairs of channels (2p, 2p + 1) packed per ξ in 6-row panels: int32
    /// ((ξ·Panels + panel)·Pairs + p)·6 + row. Missing rows and the odd channel's partner are 0. Kept per weight.
    /// </summary>
    internal sealed class TransformedWeights
    {
        private static readonly ConditionalWeakTable<PackedInt8Weights, TransformedWeights> Cache = new();

        public int[] U { get; }
        public int Pairs { get; }
        public int Panels { get; }

        private TransformedWeights(PackedInt8Weights weight)
        {
            // The packed row holds the 9 taps of every input channel (QConv2d.Check matched it to the geometry).
            int channels = weight.InFeatures / 9, outChannels = weight.OutFeatures;
            Pairs = (channels + 1) / 2;
            Panels = (outChannels + QWinogradGemm.PanelRows - 1) / QWinogradGemm.PanelRows;
            U = GC.AllocateArray<int>(16 * Panels * Pairs * QWinogradGemm.PanelRows, pinned: true);
            Span<int> g = stackalloc int[9], u = stackalloc int[16];
            for (int o = 0; o < outChannels; o++)
                for (int c = 0; c < channels; c++)
                {
                    // The packed row's taps are in (kh, kw, c) order (QConv2d.ChannelsLastWeight).
                    for (int t = 0; t < 9; t++) g[t] = weight.At(o, t * channels + c);
                    QWinogradTransforms.Weight(g, u);
                    for (int xi = 0; xi < 16; xi++)
                    {
                        ref int slot = ref U[((xi * Panels + o / QWinogradGemm.PanelRows) * Pairs + c / 2) * QWinogradGemm.PanelRows
                            + o % QWinogradGemm.PanelRows];
                        slot = c % 2 == 0 ? (slot & ~0xFFFF) | (ushort)u[xi] : (slot & 0xFFFF) | (u[xi] << 16);
                    }
                }
        }

        public static TransformedWeights Of(PackedInt8Weights weight) => Cache.GetValue(weight, w => new TransformedWeights(w));
    }

    /// <summary>
    /// Tiles of 2×2 outputs, TilesH × TilesW per image; blocks of <paramref name="BlockRows"/> tile rows counted over
    /// the whole batch, each split into <paramref name="Groups"/> groups of output channels (whole panels); a block's
    /// tiles padded to whole strips (<paramref name="Tiles"/>), its V and M rows <paramref name="Stride"/> apart (16 tiles
    /// of slack for the transforms' whole-vector writes and reads); <paramref name="Half"/> split-row columns.
    /// </summary>
    internal readonly record struct Plan(int TilesH, int TilesW, int BlockRows, int Blocks, int Groups, int Tiles, int Stride, int Half)
    {
        public static Plan Of(Conv2dGeometry g, TransformedWeights u)
        {
            int tilesH = (g.OutHeight + 1) / 2, tilesW = (g.OutWidth + 1) / 2, rows = g.Batch * tilesH, threads = Cpu.Threads;
            long bytesPerTile = 16L * sizeof(int) * (u.Pairs + u.Panels * QWinogradGemm.PanelRows);
            int most = (int)Math.Clamp(BlockBytes / (bytesPerTile * tilesW), 1, rows);
            // Fewer blocks than threads: split each block's output channels between threads where the weights outweigh the
            // block (each thread then streams only its part of U, as ResNet-18's 512-channel 7×7 layer at batch 1 wants),
            // else make more, smaller blocks.
            int groups = 1;
            if ((rows + most - 1) / most < threads && threads > 1)
            {
                if ((long)u.U.Length * sizeof(int) > bytesPerTile * Math.Min(most, rows) * tilesW) groups = Math.Min(threads, u.Panels);
                else most = Math.Max(1, Math.Min(most, (rows + threads - 1) / threads));
            }
            // The GEMMs run whole strips of 8 tiles: of the heights up to `most`, the one whose busiest thread computes the
            // fewest tiles (then the fewest in all, then the tallest).
            int parts = Math.Max(1, threads / groups), best = most;
            for (int r = most - 1; r >= 1; r--)
            {
                var (load, bestLoad) = (Busiest(r, rows, tilesW, parts), Busiest(best, rows, tilesW, parts));
                if (load < bestLoad || (load == bestLoad && Computed(r, rows, tilesW) < Computed(best, rows, tilesW))) best = r;
            }
            int blocks = (rows + best - 1) / best;
            int tiles = RoundUp(best * tilesW, QWinogradGemm.Strip / 2);
            return new Plan(tilesH, tilesW, best, blocks, groups, tiles, tiles + 16, RoundUp(tilesW, 16) + 16);
        }

        /// <summary>The tiles a block of <paramref name="count"/> tile rows computes: whole strips of 8.</summary>
        public int TilesOf(int count) => RoundUp(count * TilesW, QWinogradGemm.Strip / 2);

        private static long Busiest(int blockRows, int rows, int tilesW, int parts) =>
            (long)((rows + blockRows - 1) / blockRows + parts - 1) / parts * RoundUp(blockRows * tilesW, 8);

        private static long Computed(int blockRows, int rows, int tilesW)
        {
            int full = rows / blockRows, rest = rows % blockRows;
            return (long)full * RoundUp(blockRows * tilesW, 8) + (rest == 0 ? 0 : RoundUp(rest * tilesW, 8));
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

}
