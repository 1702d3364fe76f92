// The zmm vpdpbusd micro-kernels, emitted once per process (X64Emitter) into executable pages (ExecutableMemory).
// Each computes c[i, j] = offset[j] + Σ_p x(p, i)·w(p, j) over the quad layout of QGemmKernelQuads (uint8 quads
// of X, int8 quad panels of W: 64 bytes = 16 channels × 4 per quad, one zmm), for `rows` rows × `panels`·16
// channels held in zmm8.. accumulators: per quad it loads the panels (zmm0, zmm1), broadcasts each row's 4 input
// bytes (zmm2/zmm3 in turn) and runs one vpdpbusd per row and panel — the 12 × 32 tile is 24 vpdpbusd (1,536
// multiply-adds) per 2 loads and 12 broadcasts, where QGemmKernelAvx512 needs 24 vpmaddwd + 24 vpaddd for 768.
// System V AMD64 calling convention (Linux): arguments in rdi, rsi, rdx, rcx, r8, r9, the 7th at [rsp + 8];
// zmm0–31 and the registers used here are caller-saved, so nothing is saved.
using System.Runtime.InteropServices;

namespace Condense.Kernels.Int8Gemm.Jit;

/// <summary>The emitted kernels; <see cref="Available"/> is false where they could not be made (then none is called).</summary>
internal static unsafe class JitQuadKernels
{
    /// <summary>Rows of the full tile.</summary>
    public const int TileRows = 12;

    // void kernel(int* a, sbyte* b, nint panelStride, int* offset, int* c, nint ldcBytes, nint kQuads), kQuads ≥ 1.
    private static readonly delegate* unmanaged[SuppressGCTransition]<int*, sbyte*, nint, int*, int*, nint, nint, void>
        s_tile2, s_tile1, s_row2, s_row1;

    static JitQuadKernels()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        try
        {
            var emitter = new X64Emitter();
            int tile2 = Emit(emitter, TileRows, 2), tile1 = Emit(emitter, TileRows, 1), row2 = Emit(emitter, 1, 2), row1 = Emit(emitter, 1, 1);
            byte* code = ExecutableMemory.Publish(emitter.ToArray());
            if (code == null) return;
            s_tile2 = (delegate* unmanaged[SuppressGCTransition]<int*, sbyte*, nint, int*, int*, nint, nint, void>)(code + tile2);
            s_tile1 = (delegate* unmanaged[SuppressGCTransition]<int*, sbyte*, nint, int*, int*, nint, nint, void>)(code + tile1);
            s_row2 = (delegate* unmanaged[SuppressGCTransition]<int*, sbyte*, nint, int*, int*, nint, nint, void>)(code + row2);
            s_row1 = (delegate* unmanaged[SuppressGCTransition]<int*, sbyte*, nint, int*, int*, nint, nint, void>)(code + row1);
            Available = true;
        }
        catch (Exception) { }   // whatever failed (no libc, a refused mapping), the managed kernels run instead
    }

    /// <summary>True when the kernels exist (Linux x86-64 and the pages could be made executable); the CPU is not checked here.</summary>
    public static bool Available { get; }

    /// <summary>
    /// <paramref name="rows"/> rows (12: a[p·12 + i], or 1: a[p]) × <paramref name="panels"/>·16 channels into c with
    /// <paramref name="ldc"/> ints per row; kQuads ≥ 1.
    /// </summary>
    public static void Run(int rows, int panels, int kQuads, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc)
    {
        var kernel = (rows, panels) switch
        {
            (TileRows, 2) => s_tile2,
            (TileRows, 1) => s_tile1,
            (1, 2) => s_row2,
            _ => s_row1,
        };
        kernel(a, b, panelStride, offset, c, (nint)ldc * sizeof(int), kQuads);
    }

    /// <summary>Appends one kernel; returns its entry offset.</summary>
    internal static int Emit(X64Emitter e, int rows, int panels)
    {
        Gpr a = Gpr.Rdi, b0 = Gpr.Rsi, panelStride = Gpr.Rdx, offset = Gpr.Rcx, c = Gpr.R8, ldcBytes = Gpr.R9, count = Gpr.Rax, b1 = Gpr.R10;
        const int Weights = 0, Inputs = 2, FirstAccumulator = 8;
        int entry = e.Position;
        e.LoadQword(count, Gpr.Rsp, 8);
        if (panels == 2) { e.Move(b1, b0); e.Add(b1, panelStride); }
        for (int r = 0; r < rows * panels; r++) e.ZeroZmm(FirstAccumulator + r);

        int loop = e.Position;
        e.LoadZmm(Weights, b0, 0);
        if (panels == 2) e.LoadZmm(Weights + 1, b1, 0);
        for (int i = 0; i < rows; i++)
        {
            int x = Inputs + i % 2;
            e.BroadcastDword(x, a, 4 * i);
            for (int p = 0; p < panels; p++) e.Vpdpbusd(FirstAccumulator + i * panels + p, x, Weights + p);
        }
        e.Add(a, 4 * rows);
        e.Add(b0, 64);
        if (panels == 2) e.Add(b1, 64);
        e.Decrement(count);
        e.JumpIfNotZero(loop);

        for (int i = 0; i < rows; i++)
        {
            for (int p = 0; p < panels; p++)
            {
                int acc = FirstAccumulator + i * panels + p;
                e.AddDwordsFromMemory(acc, acc, offset, 64 * p);
                e.StoreZmm(c, 64 * p, acc);
            }
            if (i + 1 < rows) e.Add(c, ldcBytes);
        }
        e.ZeroUpper();
        e.Return();
        return entry;
    }
}
