// The Winograd convolution's three phases over blocks of WinogradTilesScalar.BlockTiles tiles (layouts in
// WinogradTiles.Scalar.cs): the input transform of a block's tiles for every input channel (V, α² × C × 32 floats, kept
// per thread), the α² GEMMs M[ξ] (rows × 32) = U[ξ] (rows × C) · V[ξ] (C × 32) on the GEMM micro-kernels for a group
// of output channels (U packed once per weight, WinogradTransform.PackWeights), and the output transform of that
// group straight into y with the epilogue, while M is in L2. With a block of tiles or more per thread, each thread takes
// a run of tiles; with fewer, every thread takes all tiles and a share of the output channels (batch 1 at 14×14 and 7×7:
// 16 tiles), repeating the input transform, a small cost beside its GEMMs there. A K block of KC input channels keeps
// its V panel (KC × 32 floats, 16 KiB) in L1 while the U micro-panels stream past it. Every output is the same FMA chain
// (fixed K blocks) and the same transforms whatever thread or block computes it: the bits do not depend on the threads.
using System.Runtime.CompilerServices;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Winograd F(m×m, 3×3) forward convolution on the GEMM micro-kernel <typeparamref name="TGemm"/>.</summary>
internal static unsafe class Conv2dWinograd<TGemm> where TGemm : struct, IGemmKernel
{
    private const int BlockTiles = WinogradTilesScalar.BlockTiles;

    /// <summary>Input channels per K block: a KC × 32 V panel is 16 KiB of the 32 KiB L1.</summary>
    private const int KC = 128;

    /// <summary>Bytes of M one output-channel group holds (α² × rows × 32 floats): in L2 beside V.</summary>
    private const int GroupBytes = 256 * 1024;

    [ThreadStatic] private static Job? t_job;

    /// <summary>Output channels per packed U panel: WinogradTileAvx512's 8 rows on AVX-512, else the micro-kernel's MR.</summary>
    public static int PanelRows => TGemm.Path == KernelPath.Avx512 ? WinogradTileAvx512.PanelRows : TGemm.MR;

    /// <summary>Output channels per group: about <see cref="GroupBytes"/> of M, a multiple of the panel rows.</summary>
    private static int GroupRows(WinogradTransform f) =>
        Math.Max(1, GroupBytes / (f.Alpha * f.Alpha * BlockTiles * sizeof(float)) / PanelRows) * PanelRows;

    /// <summary>
    /// The work of a call in flops of GEMM: 2·α²·M·C per tile, and the transforms at about one cycle per tile, component
    /// and channel (in and out), the time of 32 GEMM flops (Conv2dWinograd's cost model).
    /// </summary>
    private static long Work(in WinogradTiling s)
    {
        var g = s.Geometry;
        long perTile = (long)s.Transform.Alpha * s.Transform.Alpha * (2L * g.OutChannels * g.InChannels + 32L * (g.InChannels + g.OutChannels));
        return perTile * s.Count;
    }

    /// <summary>
    /// y = max(0, conv(x, w) + b + residual) (each step when given) with u = w's transform packed for
    /// <typeparamref name="TGemm"/> (<see cref="WinogradTransform.PackWeights"/> with mr = <see cref="PanelRows"/>).
    /// </summary>
    public static void Forward(in WinogradTiling s, float* x, float* u, float* bias, float* y, float* residual, bool relu, int threads)
    {
        var g = s.Geometry;
        int groups = (s.Count + 7) / 8, panels = (g.OutChannels + PanelRows - 1) / PanelRows;
        if (groups == 0) return;
        int usable = Work(s) >= Conv2dKernel.ParallelFlops ? threads : 1;
        // A block of tiles or more per thread: each thread takes a run of tiles (cut at multiples of 8, the narrowest
        // tile). Fewer tiles: each thread takes every tile and a share of the output-channel panels, transforming the
        // input again (a small cost beside its GEMMs when the tiles are few).
        bool splitTiles = s.Count >= usable * BlockTiles || panels < usable;
        int parts = Math.Min(usable, splitTiles ? groups : panels);
        var job = t_job ??= new Job();
        job.Set(s, x, u, bias, y, residual, relu, splitTiles, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>Part p: a run of tiles for every output channel, or every tile for a run of output-channel panels.</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static float[]? t_v, t_m;

        private WinogradTiling _s;
        private int _parts;
        private bool _relu, _splitTiles;
        private float* _x, _u, _bias, _y, _residual;

        public void Set(in WinogradTiling s, float* x, float* u, float* bias, float* y, float* residual, bool relu, bool splitTiles, int parts)
        {
            (_s, _relu, _splitTiles, _parts) = (s, relu, splitTiles, parts);
            _x = x; _u = u; _bias = bias; _y = y; _residual = residual;
        }

        public void Clear() { _x = _u = _bias = _y = _residual = null; _s = default; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int part)
        {
            var s = _s;
            var g = s.Geometry;
            var f = s.Transform;
            int xis = f.Alpha * f.Alpha, c = g.InChannels, mr = PanelRows, panels = (g.OutChannels + mr - 1) / mr, groupRows = GroupRows(f);
            float* v = AlignedBuffer.Of(ref t_v, xis * WinogradTilesScalar.VStride(c));
            float* m = AlignedBuffer.Of(ref t_m, xis * WinogradTilesScalar.MStride(groupRows));
            int groups = (s.Count + 7) / 8, t0 = 0, t1 = s.Count, r0 = 0, r1 = g.OutChannels;
            if (_splitTiles) (t0, t1) = (groups * part / _parts * 8, Math.Min(s.Count, groups * (part + 1) / _parts * 8));
            else (r0, r1) = (panels * part / _parts * mr, Math.Min(g.OutChannels, panels * (part + 1) / _parts * mr));
            for (int first = t0; first < t1; first += BlockTiles)
            {
                int count = Math.Min(BlockTiles, t1 - first);
                Input(s, first, count, v);
                for (int k0 = r0; k0 < r1; k0 += groupRows)
                {
                    int rows = Math.Min(groupRows, r1 - k0);
                    Multiply(s, v, m, k0, rows, count);
                    Output(s, m, rows, k0, first, count);
                }
            }
        }

        private void Input(in WinogradTiling s, int t0, int count, float* v)
        {
            if (TGemm.Path == KernelPath.Scalar) WinogradTilesScalar.Input(s, _x, t0, count, v, TGemm.NR);
            else if (s.Transform.Output == 4) WinogradTilesF4.Input(s, _x, t0, count, v, TGemm.NR);
            else WinogradTilesF2.Input(s, _x, t0, count, v, TGemm.NR);
        }

        private void Output(in WinogradTiling s, float* m, int rows, int k0, int t0, int count)
        {
            if (TGemm.Path == KernelPath.Scalar) WinogradTilesScalar.Output(s, m, rows, k0, t0, count, _bias, _y, _residual, _relu);
            else if (s.Transform.Output == 4) WinogradTilesF4.Output(s, m, rows, k0, t0, count, _bias, _y, _residual, _relu);
            else WinogradTilesF2.Output(s, m, rows, k0, t0, count, _bias, _y, _residual, _relu);
        }

        // M[ξ] (rows × 32) = U[ξ][k0 .., :] · V[ξ] for every ξ, K block by K block (each C element the same FMA chain).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Multiply(in WinogradTiling s, float* v, float* m, int k0, int rows, int count)
        {
            var g = s.Geometry;
            int xis = s.Transform.Alpha * s.Transform.Alpha, c = g.InChannels, mr = PanelRows, nr = TGemm.NR;
            long uXi = (long)(g.OutChannels + mr - 1) / mr * mr * c, vXi = WinogradTilesScalar.VStride(c), mXi = WinogradTilesScalar.MStride(rows);
            int usedPanels = (count + nr - 1) / nr;
            for (int xi = 0; xi < xis; xi++)
                for (int pc = 0; pc < c; pc += KC)
                {
                    int kc = Math.Min(KC, c - pc);
                    float beta = pc == 0 ? 0f : 1f;
                    for (int r = 0; r < rows; r += mr)
                    {
                        int mrUsed = Math.Min(mr, rows - r);
                        float* a = _u + xi * uXi + ((long)(k0 + r) * c + (long)pc * mr);
                        float* target = m + xi * mXi + (long)r * BlockTiles;
                        for (int p = 0; p < usedPanels; p++)
                        {
                            // A ragged last panel: the SGEMM kernel's narrower tile for at most half its width, else the zero lanes
                            // past count are computed with the rest; the AVX-512 tiles cover it in pieces of 32, 16 and 8.
                            int left = count - p * nr, nrUsed = left <= nr / 2 ? left : nr;
                            float* b = v + xi * vXi + ((long)p * c + pc) * nr;
                            if (TGemm.Path != KernelPath.Avx512) TGemm.Run(kc, a, b, target + p * nr, BlockTiles, mrUsed, nrUsed, 1f, beta);
                            else
                                for (int j = 0; j < left && j < nr; j += Width(left - j))
                                    WinogradTileAvx512.Run(mrUsed, Width(left - j), kc, a, b + j, target + p * nr + j, BlockTiles, accumulate: pc > 0);
                        }
                    }
                }
        }

        /// <summary>The AVX-512 tile's columns for <paramref name="left"/> tiles still to cover: 32, 16 or 8.</summary>
        private static int Width(int left) => left > 24 ? 32 : left > 8 ? 16 : 8;
    }
}
