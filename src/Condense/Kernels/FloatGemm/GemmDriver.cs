// The blocked GEMM driver (Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication";
// the BLIS loop order): for each NC block of columns and K block (GemmBlocking: about KC deep), pack op(B) once; for each MC
// block of rows, pack op(A) (Aᵀ only: A is read in place); then for each MR-row A micro-panel sweep the NR-column B
// micro-panels. The A micro-panel (MR×KC, 18 KiB) stays in L1 while the B micro-panels stream from the KC×NC packed block;
// the other order (B micro-panel resident) does not fit: a KC×32 B micro-panel fills a 32 KiB L1 by
// itself (measured at 1024³ on Zen 4: 1.05× for this order). Threads split C into a grid of about two
// chunks per thread (never K) and claim chunks as they go, so a thread the OS delays holds up at most one
// chunk; the K blocking is fixed, so each C element is the same FMA chain whatever the thread count.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>The K blocking every kernel path shares (GemmPackedB lays its panels out by it).</summary>
internal static class GemmBlocking
{
    /// <summary>
    /// Nominal depth of a K block: a 12×KC A micro-panel is 18 KiB of a 32 KiB L1, and each C tile is read and written
    /// once per KC steps (384 measured 1–3 % faster than 256 at 1024³ and on the MiniLM shapes).
    /// </summary>
    public const int KC = 384;

    /// <summary>The deepest block: K is cut into equal blocks of at most this (KC + 1/8).</summary>
    public const int MaxDepth = KC + KC / 8;

    /// <summary>
    /// The depth of the K blocks of a product of depth <paramref name="k"/> (the last may be shorter): k cut into as few
    /// equal blocks as MaxDepth allows — LeNet's 784 into 392 + 392, not 384 + 384 + 16, whose last block would read and
    /// write every C tile for 16 multiply-adds (fc1 at batch 256 measured 1 % faster on one thread).
    /// </summary>
    public static int Depth(int k)
    {
        int blocks = Math.Max(1, (k + MaxDepth - 1) / MaxDepth);
        return Math.Max(1, (k + blocks - 1) / blocks);
    }
}

/// <summary>Blocked, packed, optionally multi-threaded GEMM over one micro-kernel.</summary>
internal static unsafe class GemmDriver<TKernel> where TKernel : struct, IGemmKernel
{
    private const int MaxKC = GemmBlocking.MaxDepth;

    /// <summary>Columns per B block: KC×NC floats (1.5 MiB) of packed B, streamed from L2/L3 once per A micro-panel.</summary>
    private const int NC = 1024;

    /// <summary>
    /// Below this many flops (~100 µs on one core) waking a second thread costs more than it saves (measured: 128³ ran
    /// slower on 2 threads). It was 10 Mflop; MobileNetV2's 1×1 layers at 14×14 and 7×7 (4–10 Mflop) then ran on one
    /// thread: at 3 Mflop its batch 1 went 20.6–22.1 → 17.8–19.3 ms, the small models unchanged (`real --only small`,
    /// alternating runs on the 2-core AMD machine, workers not spinning).
    /// </summary>
    private const long ParallelFlops = 3_000_000;

    /// <summary>From this many flops (~1 ms on one core) a call is cut into two chunks per thread instead of one.</summary>
    private const long ChunkedFlops = 100_000_000;

    /// <summary>Rows per A block: about 480 (720 KiB at KC = 384); only its current micro-panel needs to stay in cache.</summary>
    private static int MC => 480 / TKernel.MR * TKernel.MR;

    [ThreadStatic] private static Job? t_job;

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C, then <paramref name="epilogue"/> on each tile; all pointers stay valid for the call. With
    /// <paramref name="packed"/> (this path's panels of op(B)) B is read from it and <paramref name="b"/> is not used.
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, GemmPackedB? packed = null, GemmEpilogue epilogue = default)
    {
        int tilesM = (m + TKernel.MR - 1) / TKernel.MR, tilesN = (n + TKernel.NR - 1) / TKernel.NR;
        int parts = 2L * m * n * k >= ParallelFlops ? Math.Min(Cpu.Threads, tilesM * tilesN) : 1;
        if (parts <= 1)
        {
            Block(transA, transB, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, m, 0, n, packed, epilogue);
            return;
        }
        // Cut the dimension whose chunks are longer until there are enough chunks: two per thread balance
        // better than one, but each chunk packs its own rows of A and columns of B, which below ChunkedFlops
        // costs more than the balance saves (measured: 256×100×300 ran 2 % slower in six chunks than in two).
        // With B packed beforehand (constant weights at inference) the rows are cut into one chunk per thread, as long as
        // there are rows to cut: all-MiniLM-L6-v2 at 8 × 128 tokens ran 4 % faster, LeNet-300-100 at batch 256 10 %, than in
        // two chunks per thread (fc1's 22 row tiles make chunks of 5 and 6, which two threads share 10 to 12) or with the
        // columns cut too (measured alternating in one process).
        int chunks = 2L * m * n * k >= ChunkedFlops && packed is null ? 2 * parts : parts;
        int gridM = 1, gridN = 1;
        while (gridM * gridN < chunks)
        {
            bool canN = gridN < tilesN, canM = gridM < tilesM;
            if (canM && packed is not null) gridM++;
            else if (canN && (!canM || (long)n * gridM >= (long)m * gridN)) gridN++;
            else if (canM) gridM++;
            else break;
        }
        var job = t_job ??= new Job();
        job.Set(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, tilesM, tilesN, gridM, gridN, packed, epilogue);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>Computes rows [m0, m1) × columns [n0, n1) of C on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(bool transA, bool transB, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc, int m0, int m1, int n0, int n1, GemmPackedB? packed, GemmEpilogue epilogue)
    {
        int mr = TKernel.MR, nr = TKernel.NR, mcMax = MC;
        var buffers = PackBuffers.ForThisThread;
        int ncMax = Math.Min(NC, (n1 - n0 + nr - 1) / nr * nr);
        float* pa = buffers.A(Math.Min(mcMax, (m1 - m0 + mr - 1) / mr * mr) * MaxKC);
        float* pb = packed is null ? buffers.B(ncMax * MaxKC) : null;
        int depth = GemmBlocking.Depth(k);
        // Rows of A one micro-kernel reads in place, unless they would all fall in one set of the L1 (a row stride of a
        // multiple of 4 KiB): 1–3 % faster on MiniLM's products than packing it (measured), and MLAS never packs A either.
        bool direct = !transA && lda % 1024 != 0;
        // The AVX-512 kernel finishes tiles in registers (GemmTileStore.cs); the others store them for the epilogue.
        bool fusedEpilogue = typeof(TKernel) == typeof(GemmKernelAvx512) && FinishingStore.Takes(epilogue);
        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += depth)
            {
                int kc = Math.Min(depth, k - pc);
                // Only the first K block applies beta; later blocks add onto what it wrote.
                float betaBlock = pc == 0 ? beta : 1f;
                bool finishing = !epilogue.IsEmpty && (pc == 0 || pc + kc == k);
                if (packed is null) GemmPack.PackB(transB, TKernel.Path != KernelPath.Scalar, b, ldb, pc, jc, kc, nc, nr, pb);
                else pb = packed.Block(pc, jc, kc);
                for (int ic = m0; ic < m1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m1 - ic);
                    // Whole panels of A (M, K) are read in place, as MLAS does; a ragged last panel, and Aᵀ, are packed.
                    int inPlace = direct ? mc / mr * mr : 0;
                    if (inPlace < mc) GemmPack.PackA(transA, TKernel.Path != KernelPath.Scalar, a, lda, ic + inPlace, pc, mc - inPlace, kc, mr, pa);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int mrValid = Math.Min(mr, mc - ir);
                        bool read = ir < inPlace;
                        float* panel = read ? a + (long)(ic + ir) * lda + pc : pa + (ir - inPlace) * kc;
                        nint row = read ? lda : 1, step = read ? 1 : mr;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            float* cTile = c + (long)(ic + ir) * ldc + jc + jr;
                            int nrValid = Math.Min(nr, nc - jr);
                            // The bias after the first K block, the activation after the last: in registers before the
                            // store where the kernel can, else on the stored tile while it is in L1.
                            if (finishing && fusedEpilogue)
                                GemmKernelAvx512.RunFinishing(kc, panel, row, step, pb + jr * kc, cTile, ldc, mrValid, nrValid, alpha, betaBlock,
                                    epilogue, ic + ir, jc + jr, pc == 0, pc + kc == k);
                            else
                            {
                                TKernel.Run(kc, panel, row, step, pb + jr * kc, cTile, ldc, mrValid, nrValid, alpha, betaBlock);
                                if (finishing) epilogue.Apply(TKernel.Path, cTile, ldc, mrValid, nrValid, ic + ir, jc + jr, pc == 0, pc + kc == k);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>One threaded call: each part claims chunks of the gridM × gridN grid of C until none are left.</summary>
    private sealed class Job : IParallelJob
    {
        private bool _transA, _transB;
        private int _m, _n, _k, _lda, _ldb, _ldc, _tilesM, _tilesN, _gridM, _gridN, _next;
        private float _alpha, _beta;
        private float* _a, _b, _c;
        private GemmPackedB? _packed;
        private GemmEpilogue _epilogue;

        public void Set(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda,
            float* b, int ldb, float beta, float* c, int ldc, int tilesM, int tilesN, int gridM, int gridN, GemmPackedB? packed,
            GemmEpilogue epilogue)
        {
            (_packed, _epilogue) = (packed, epilogue);
            (_transA, _transB, _m, _n, _k, _alpha, _lda, _ldb, _beta, _ldc) =
                (transA, transB, m, n, k, alpha, lda, ldb, beta, ldc);
            _a = a; _b = b; _c = c;
            (_tilesM, _tilesN, _gridM, _gridN, _next) = (tilesM, tilesN, gridM, gridN, 0);
        }

        public void Clear() { _a = _b = _c = null; _packed = null; _epilogue = default; }

        public void Execute(int part)
        {
            int chunk;
            while ((chunk = Interlocked.Increment(ref _next) - 1) < _gridM * _gridN)
            {
                int i = chunk / _gridN, j = chunk % _gridN;
                int m0 = _tilesM * i / _gridM * TKernel.MR, m1 = Math.Min(_m, _tilesM * (i + 1) / _gridM * TKernel.MR);
                int n0 = _tilesN * j / _gridN * TKernel.NR, n1 = Math.Min(_n, _tilesN * (j + 1) / _gridN * TKernel.NR);
                Block(_transA, _transB, _k, _alpha, _a, _lda, _b, _ldb, _beta, _c, _ldc, m0, m1, n0, n1, _packed, _epilogue);
            }
        }
    }
}
