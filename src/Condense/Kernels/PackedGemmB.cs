// A constant right operand of the fp32 GEMM (an inference weight) packed once into the micro-kernel panels
// of one kernel path (GemmDriver.PackWhole), so that repeated products with it skip the per-call pack: for
// the 300×784 Linear weight of LeNet-300-100 the transposing pack cost about 60 µs a call (measured), 5% of
// a batch-256 product. Packing is a copy, so a product with the packed form has the same bits as without.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Condense.Kernels;

/// <summary>op(B) (k × n) in the panel layout of one kernel path's GEMM driver.</summary>
internal sealed unsafe class PackedGemmB
{
    private readonly float[] _data;
    private readonly int _offset;

    /// <summary>Packs op(B) for <paramref name="path"/>: B is k × n (ldb ≥ n), or n × k (ldb ≥ k) when <paramref name="transB"/>.</summary>
    public PackedGemmB(KernelPath path, bool transB, int k, int n, ReadOnlySpan<float> b, int ldb)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        (int rows, int cols) = transB ? (n, k) : (k, n);
        if (ldb < Math.Max(1, cols) || (rows > 0 && cols > 0 && b.Length < (long)(rows - 1) * ldb + cols))
            throw new ArgumentException($"b holds {b.Length} values with leading dimension {ldb}, too few for a {rows}×{cols} matrix", nameof(b));
        (Path, TransB, K, N) = (path, transB, k, n);
        long length = path switch
        {
            KernelPath.Avx512 => GemmDriver<MicroKernelAvx512>.PackedLength(k, n),
            KernelPath.Avx2 => GemmDriver<MicroKernelAvx2>.PackedLength(k, n),
            _ => GemmDriver<MicroKernelScalar>.PackedLength(k, n),
        };
        // 16 spare floats let the start move up to the next cache line; pinned so the driver may keep a pointer.
        _data = GC.AllocateUninitializedArray<float>(checked((int)length + 16), pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        _offset = (int)((((start + 63) & ~(nint)63) - start) / sizeof(float));
        if (k == 0 || n == 0) return;
        fixed (float* pb = b)
        {
            switch (path)
            {
                case KernelPath.Avx512: GemmDriver<MicroKernelAvx512>.PackWhole(transB, pb, ldb, k, n, Data); break;
                case KernelPath.Avx2: GemmDriver<MicroKernelAvx2>.PackWhole(transB, pb, ldb, k, n, Data); break;
                default: GemmDriver<MicroKernelScalar>.PackWhole(transB, pb, ldb, k, n, Data); break;
            }
        }
    }

    /// <summary>The kernel path whose panel layout this is.</summary>
    public KernelPath Path { get; }

    /// <summary>Whether B was stored n × k (op(B) = Bᵀ).</summary>
    public bool TransB { get; }

    /// <summary>Rows of op(B).</summary>
    public int K { get; }

    /// <summary>Columns of op(B).</summary>
    public int N { get; }

    /// <summary>The first packed float, 64-byte aligned; valid while this object is alive (the array is pinned).</summary>
    public float* Data => (float*)Unsafe.AsPointer(ref _data[_offset]);
}
