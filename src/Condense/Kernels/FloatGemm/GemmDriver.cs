// The blocked GEMM driver (Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication";
// the BLIS loop order): for each NC block of columns and KC block of K, pack op(B) once; for each MC
// block of rows, pack op(A); then sweep MR×NR micro-tiles. A packed B micro-panel (KC×NR) stays in L1
// while the A block (MC×KC) streams from L2. Threads split C's rows or columns, never K, and the K
// blocking is fixed, so each C element is the same FMA chain whatever the thread count.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>Blocked, packed, optionally multi-threaded GEMM over one micro-kernel.</summary>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IGemmKernel
{
    /// <summary>Depth of a K block: a KC×32 fp32 B micro-panel is 32 KiB, inside a 48 KiB L1.</summary>
    private const int KC = 256;

    /// <summary>Columns per B block: KC×NC floats (2 MiB) of packed B.</summary>
    private const int NC = 2048;

    /// <summary>
    /// Below this many flops (~100 µs on one core) waking a second thread costs more than it saves (measured: 128³ ran
    /// slower on 2 threads).
    /// </summary>
    private const long ParallelFlops = 10_000_000;

    /// <summary>Rows per A block: about 240 (a 240 KiB block at KC = 256, well inside L2).</summary>
    private static int MC => 240 / TKernel.MR * TKernel.MR;

    [ThreadStatic] private static Job? t_job;

    /// <summary>C = alpha·op(A)·op(B) + beta·C; all pointers stay valid for the call.</summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        // Split the larger output dimension into whole micro-tiles.
        bool splitN = n >= m;
        int tiles = splitN ? (n + TKernel.NR - 1) / TKernel.NR : (m + TKernel.MR - 1) / TKernel.MR;
        int parts = 2L * m * n * k >= ParallelFlops ? Math.Min(Cpu.Threads, tiles) : 1;
        if (parts <= 1)
        {
            Block(transA, transB, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, m, 0, n);
            return;
        }
        var job = t_job ??= new Job();
        job.Set(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, splitN, tiles, parts);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>Computes rows [m0, m1) × columns [n0, n1) of C on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(bool transA, bool transB, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc, int m0, int m1, int n0, int n1)
    {
        int mr = TKernel.MR, nr = TKernel.NR, mcMax = MC;
        var buffers = PackBuffers.ForThisThread;
        int ncMax = Math.Min(NC, (n1 - n0 + nr - 1) / nr * nr);
        float* pa = buffers.A(Math.Min(mcMax, (m1 - m0 + mr - 1) / mr * mr) * KC);
        float* pb = buffers.B(ncMax * KC);
        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                // Only the first K block applies beta; later blocks add onto what it wrote.
                float betaBlock = pc == 0 ? beta : 1f;
                GemmPack.PackB(transB, TKernel.Path != KernelPath.Scalar, b, ldb, pc, jc, kc, nc, nr, pb);
                for (int ic = m0; ic < m1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m1 - ic);
                    GemmPack.PackA(transA, TKernel.Path != KernelPath.Scalar, a, lda, ic, pc, mc, kc, mr, pa);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nrValid = Math.Min(nr, nc - jr);
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            float* cTile = c + (long)(ic + ir) * ldc + jc + jr;
                            TKernel.Run(kc, pa + ir * kc, pb + jr * kc, cTile, ldc,
                                Math.Min(mr, mc - ir), nrValid, alpha, betaBlock);
                        }
                    }
                }
            }
        }
    }

    /// <summary>One threaded call: part p owns a contiguous run of whole tiles along the split dimension.</summary>
    private sealed class Job : IParallelJob
    {
        private bool _transA, _transB, _splitN;
        private int _m, _n, _k, _lda, _ldb, _ldc, _tiles, _parts;
        private float _alpha, _beta;
        private float* _a, _b, _c;

        public void Set(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda,
            float* b, int ldb, float beta, float* c, int ldc, bool splitN, int tiles, int parts)
        {
            (_transA, _transB, _m, _n, _k, _alpha, _lda, _ldb, _beta, _ldc) =
                (transA, transB, m, n, k, alpha, lda, ldb, beta, ldc);
            _a = a; _b = b; _c = c;
            (_splitN, _tiles, _parts) = (splitN, tiles, parts);
        }

        public void Clear() { _a = _b = _c = null; }

        public void Execute(int part)
        {
            int t0 = (int)((long)_tiles * part / _parts), t1 = (int)((long)_tiles * (part + 1) / _parts);
            if (_splitN)
                Block(_transA, _transB, _k, _alpha, _a, _lda, _b, _ldb, _beta, _c, _ldc,
                    0, _m, t0 * TKernel.NR, Math.Min(_n, t1 * TKernel.NR));
            else
                Block(_transA, _transB, _k, _alpha, _a, _lda, _b, _ldb, _beta, _c, _ldc,
                    t0 * TKernel.MR, Math.Min(_m, t1 * TKernel.MR), 0, _n);
        }
    }
}
