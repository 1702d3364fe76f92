// The int8 GEMM driver: packs X once per call (int16 pairs or uint8 quads, in MR-row tiles), folds the bias and
// the zero-point correction into one per-channel offset, then sweeps MR × (Panels·16) tiles: for each
// block of MC rows (kept in L2), for each column tile (its weight panels stay in L1 across the rows).
// Threads split whole row tiles or whole column tiles; integer sums are exact, so any split gives the
// same bits. The fused entries requantize (or dequantize to float) each MC-row block straight from a per-thread int32
// scratch.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>Per-call state of one QGemm, run on one micro-kernel.</summary>
internal static unsafe partial class QGemmDriver<TKernel> where TKernel : struct, IQGemmKernel
{
    /// <summary>Rows per block: 96·k·2 bytes of packed pairs (150 KiB at k = 784; quads take half) stay in L2.</summary>
    private static int MC => 96 / TKernel.MR * TKernel.MR;

    /// <summary>Channels per tile.</summary>
    private static int NR => TKernel.Panels * PackedInt8Weights.PanelWidth;

    /// <summary>Below this many multiply-adds (≈ 50 µs) a second thread costs more than it saves.</summary>
    private const long ParallelMacs = 1L << 21;

    [ThreadStatic] private static Job? t_job;

    /// <summary>acc (m × n) = X·Wᵀ + bias − zx·rowSums, or, when <paramref name="requant"/> is set, y = requantize(that) or dequantize(that).</summary>
    public static void Run(int m, byte* x, int xZeroPoint, PackedInt8Weights w, int* bias, int* acc, in QOutput requant)
    {
        int n = w.OutFeatures, kGroups = TKernel.Layout == QGemmLayout.Quads ? w.KQuads : w.KPairs;
        var buffers = QBuffers.ForThisThread;
        int* packedX = buffers.X(m * kGroups);

        // Zero-point algebra (Jacob et al. 2018, eq. 7, with weight zero point 0):
        //   Σ_k (x[i,k] − zx)·W[o,k] = Σ_k x[i,k]·W[o,k] − zx·Σ_k W[o,k].
        // The kernels sum raw x·W; the second term depends only on o, so it joins the bias in one offset.
        // All in wrapping int32: the true result fits (k ≤ MaxInFeatures), so the wrapped parts add up to it.
        int* offset = buffers.Offset((n + NR - 1) / NR * NR);
        var rowSums = w.RowSums;
        for (int o = 0; o < n; o++) offset[o] = (bias == null ? 0 : bias[o]) - xZeroPoint * rowSums[o];

        sbyte* weights = TKernel.Layout switch
        {
            QGemmLayout.WidePairs => (sbyte*)w.Wide,
            QGemmLayout.Quads => w.Quads,
            _ => w.Data,
        };
        int panelStride = TKernel.Layout switch   // bytes
        {
            QGemmLayout.WidePairs => 2 * w.PanelStride,
            QGemmLayout.Quads => w.QuadPanelStride,
            _ => w.PanelStride,
        };
        int rowTiles = (m + TKernel.MR - 1) / TKernel.MR, colTiles = (n + NR - 1) / NR;
        bool splitN = colTiles >= rowTiles;
        int tiles = splitN ? colTiles : rowTiles;
        int parts = (long)m * n * w.InFeatures >= ParallelMacs ? Math.Min(Cpu.Threads, tiles) : 1;
        // Split by rows, each part packs the rows it multiplies; split by columns, every part needs all of X.
        if (parts <= 1 || splitN) PackX(m, w.InFeatures, kGroups, x, packedX, 0, m);
        if (parts <= 1)
        {
            Part(m, n, kGroups, packedX, weights, panelStride, offset, acc, requant, 0, m, 0, n);
            return;
        }
        var job = t_job ??= new Job();
        job.Set(m, n, w.InFeatures, kGroups, x, packedX, weights, panelStride, offset, acc, requant, splitN, tiles, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>Rows [m0, m1) × channels [n0, n1): int32 into acc, or requantized into requant.Y, or dequantized into requant.FloatY.</summary>
    private static void Part(int m, int n, int kGroups, int* packedX, sbyte* w, int panelStride, int* offset,
        int* acc, in QOutput requant, int m0, int m1, int n0, int n1)
    {
        if (!requant.Enabled)
        {
            Block(m, kGroups, packedX, w, panelStride, offset, m0, m1, n0, n1, acc + (long)m0 * n + n0, n);
            return;
        }
        int width = n1 - n0, mc = MC;
        int* scratch = QBuffers.ForThisThread.Acc(mc * width);
        for (int ic = m0; ic < m1; ic += mc)
        {
            int rows = Math.Min(mc, m1 - ic);
            Block(m, kGroups, packedX, w, panelStride, offset, ic, ic + rows, n0, n1, scratch, width);
            for (int i = 0; i < rows; i++)
                if (requant.FloatY != null)
                    Dequantize.RowCore(TKernel.Path, scratch + i * width, requant.Scales + n0, requant.Bias == null ? null : requant.Bias + n0, width,
                        requant.FloatY + (long)(ic + i) * n + n0);
                else
                    Requantize.RowCore(TKernel.Path, scratch + i * width, requant.Multiplier + n0, requant.Shift + n0, width,
                        requant.ZeroPoint, requant.QMin, requant.QMax, requant.Y + (long)(ic + i) * n + n0);
        }
    }

    /// <summary>Rows [m0, m1) × channels [n0, n1) into c, which points at element (m0, n0); m0 and n0 start tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(int m, int kGroups, int* packedX, sbyte* w, int panelStride, int* offset,
        int m0, int m1, int n0, int n1, int* c, int ldc)
    {
        int mr = TKernel.MR, nr = NR, mc = MC, full = m / mr * mr;
        for (int ic = m0; ic < m1; ic += mc)
        {
            int icEnd = Math.Min(m1, ic + mc);
            for (int jt = n0; jt < n1; jt += nr)
            {
                int nValid = Math.Min(nr, n1 - jt);
                sbyte* b = w + (long)(jt / PackedInt8Weights.PanelWidth) * panelStride;
                int* cj = c + (jt - n0);
                int i = ic;
                for (; i + mr <= icEnd && i < full; i += mr)
                    TKernel.Tile(kGroups, packedX + (long)i * kGroups, b, panelStride, offset + jt, cj + (long)(i - m0) * ldc, ldc, nValid);
                for (; i < icEnd; i++)
                    TKernel.Row(kGroups, packedX + (long)i * kGroups, b, panelStride, offset + jt, cj + (long)(i - m0) * ldc, nValid);
            }
        }
    }

    /// <summary>One threaded call: part p owns a contiguous run of whole tiles along the split dimension.</summary>
    private sealed class Job : IParallelJob
    {
        private int _m, _n, _k, _kGroups, _panelStride, _tiles, _parts;
        private bool _splitN;
        private byte* _x;
        private int* _packedX, _offset, _acc;
        private sbyte* _w;
        private QOutput _requant;

        public void Set(int m, int n, int k, int kGroups, byte* x, int* packedX, sbyte* w, int panelStride, int* offset, int* acc,
            in QOutput requant, bool splitN, int tiles, int parts)
        {
            (_m, _n, _k, _kGroups, _panelStride, _splitN, _tiles, _parts) = (m, n, k, kGroups, panelStride, splitN, tiles, parts);
            _x = x; _packedX = packedX; _w = w; _offset = offset; _acc = acc; _requant = requant;
        }

        public void Clear() { _packedX = _offset = _acc = null; _x = null; _w = null; _requant = default; }

        public void Execute(int part)
        {
            int t0 = (int)((long)_tiles * part / _parts), t1 = (int)((long)_tiles * (part + 1) / _parts);
            if (_splitN)
                Part(_m, _n, _kGroups, _packedX, _w, _panelStride, _offset, _acc, _requant, 0, _m, t0 * NR, Math.Min(_n, t1 * NR));
            else
            {
                int m0 = t0 * TKernel.MR, m1 = Math.Min(_m, t1 * TKernel.MR);
                PackX(_m, _k, _kGroups, _x, _packedX, m0, m1);
                Part(_m, _n, _kGroups, _packedX, _w, _panelStride, _offset, _acc, _requant, m0, m1, 0, _n);
            }
        }
    }
}

/// <summary>
/// The epilogue of a fused QGemm call: requantization to 8 bits (Y), or dequantization to float (FloatY, with
/// <see cref="Scales"/> and an optional <see cref="Bias"/>); both null: plain int32 output.
/// </summary>
internal readonly unsafe struct QOutput(int* multiplier, int* shift, int zeroPoint, int qmin, int qmax, byte* y)
{
    public readonly int* Multiplier = multiplier, Shift = shift;
    public readonly int ZeroPoint = zeroPoint, QMin = qmin, QMax = qmax;
    public readonly byte* Y = y;

    /// <summary>The float output of the dequantizing epilogue (m × n); null when it is not one.</summary>
    public float* FloatY { get; init; }

    /// <summary>Per column: the factor of the dequantizing epilogue.</summary>
    public float* Scales { get; init; }

    /// <summary>Per column: the bias of the dequantizing epilogue, or null.</summary>
    public float* Bias { get; init; }

    public bool Enabled => Y != null || FloatY != null;
}

/// <summary>The calling thread's 64-byte-aligned scratch for QGemm.</summary>
internal sealed unsafe class QBuffers
{
    [ThreadStatic] private static QBuffers? t_current;

    private int[] _x = [], _offset = [], _acc = [], _rows = [];

    /// <summary>The buffers of the calling thread.</summary>
    public static QBuffers ForThisThread => t_current ??= new QBuffers();

    /// <summary>Packed X: at least <paramref name="count"/> ints.</summary>
    public int* X(int count) => Aligned(ref _x, count);

    /// <summary>Per-channel offsets: at least <paramref name="count"/> ints.</summary>
    public int* Offset(int count) => Aligned(ref _offset, count);

    /// <summary>Rows of X widened to int16 pairs before their transpose (PackX): at least <paramref name="count"/> ints.</summary>
    public int* Rows(int count) => Aligned(ref _rows, count);

    /// <summary>An int32 accumulator block of the fused path: at least <paramref name="count"/> ints.</summary>
    public int* Acc(int count) => Aligned(ref _acc, count);

    private static int* Aligned(ref int[] buffer, int count)
    {
        if (buffer.Length < count + 16)
            buffer = GC.AllocateUninitializedArray<int>(count + 16, pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (int*)((p + 63) & ~(nint)63);
    }
}
