// op(B) packed once for many products, as MLAS's MlasGemmPackB does for a constant weight: the blocked driver packs each
// KC×NC block of B on every call (GemmDriver.cs), which for a transformer's projections at 128 rows is ~8 % of the product
// (all-MiniLM-L6-v2's 128×384×1536 on Zen 4: 132 µs of packing in 1,425 µs, measured hot in cache, more when B comes
// from memory). Here the whole of op(B) is laid out in the same panels, K block by K block: block pc (of kc rows) holds
// ceil(n/NR) panels of NR columns, panel s at offset (pc·panels + s·kc)·NR, so any column range a thread's chunk starts at
// (a multiple of NR) finds its block contiguous, and the product is the same FMA chain as with per-call packing, bit for bit.
// The panels depend on the kernel path (NR, and AVX transposes), so a packed B serves the path it was packed for.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>
/// op(B) (K × N) in the GEMM micro-kernels' panels, packed once for
/// <see cref="Gemm.Multiply(bool, int, float, ReadOnlySpan{float}, int, GemmPackedB, float, Span{float}, int)"/>.
/// </summary>
public sealed unsafe class GemmPackedB
{
    private readonly float[] _panels;

    private GemmPackedB(KernelPath path, int k, int n, int panelWidth, float[] panels)
    {
        (Path, K, N, PanelWidth, _panels) = (path, k, n, panelWidth, panels);
    }

    /// <summary>The kernel path whose panels these are.</summary>
    public KernelPath Path { get; }

    /// <summary>Rows of op(B): the inner dimension of the product.</summary>
    public int K { get; }

    /// <summary>Columns of op(B): the columns of C.</summary>
    public int N { get; }

    /// <summary>Columns per panel (the micro-kernel's NR).</summary>
    internal int PanelWidth { get; }

    /// <summary>Panels per K block.</summary>
    internal int Panels => (N + PanelWidth - 1) / PanelWidth;

    /// <summary>The first float of the panels, 64-byte aligned (the array is pinned).</summary>
    internal float* Pointer => (float*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_panels)) + 63) & ~(nint)63);

    /// <summary>The packed block of K block <paramref name="pc"/> starting at column <paramref name="jc"/> (a multiple of NR).</summary>
    internal float* Block(int pc, int jc, int kc) => Pointer + (long)pc * Panels * PanelWidth + (long)(jc / PanelWidth) * kc * PanelWidth;

    /// <summary>
    /// Packs op(B) (K × N) for the active kernel path: B stored K × N (ldb ≥ N), or N × K (ldb ≥ K) when
    /// <paramref name="transB"/>.
    /// </summary>
    public static GemmPackedB Pack(bool transB, int k, int n, ReadOnlySpan<float> b, int ldb) => Pack(Cpu.Active, transB, k, n, b, ldb);

    internal static GemmPackedB Pack(KernelPath path, bool transB, int k, int n, ReadOnlySpan<float> b, int ldb)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var (rows, cols) = transB ? (n, k) : (k, n);
        if (ldb < Math.Max(1, cols)) throw new ArgumentOutOfRangeException(nameof(ldb), ldb, $"ldb must be at least {Math.Max(1, cols)}");
        if (rows > 0 && cols > 0 && b.Length < (long)(rows - 1) * ldb + cols)
            throw new ArgumentException($"b holds {b.Length} elements, too few for a {rows}×{cols} matrix with leading dimension {ldb}", nameof(b));
        int nr = path switch { KernelPath.Avx512 => GemmKernelAvx512.NR, KernelPath.Avx2 => GemmKernelAvx2.NR, _ => GemmKernelScalar.NR };
        int panels = (n + nr - 1) / nr;
        var packed = new GemmPackedB(path, k, n, nr, GC.AllocateUninitializedArray<float>((int)Math.Max(1, (long)k * panels * nr + 16), pinned: true));
        fixed (float* pb = b)
            for (int pc = 0, depth = GemmBlocking.Depth(k); pc < k; pc += depth)
            {
                int kc = Math.Min(depth, k - pc);
                GemmPack.PackB(transB, path != KernelPath.Scalar, pb, ldb, pc, 0, kc, n, nr, packed.Block(pc, 0, kc));
            }
        return packed;
    }
}
