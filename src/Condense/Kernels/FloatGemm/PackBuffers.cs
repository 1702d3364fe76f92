// Per-thread scratch for packed GEMM panels. Buffers grow to the largest block seen and are then
// reused, so steady-state GEMM calls allocate nothing. Pinned arrays (not NativeMemory) so the GC
// reclaims them when a thread dies.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Condense.Kernels.FloatGemm;

/// <summary>The calling thread's 64-byte-aligned packing buffers.</summary>
internal sealed unsafe class PackBuffers
{
    [ThreadStatic] private static PackBuffers? t_current;

    private float[] _a = [], _b = [], _x = [], _xt = [];

    /// <summary>The buffers of the calling thread.</summary>
    public static PackBuffers ForThisThread => t_current ??= new PackBuffers();

    /// <summary>Room for at least <paramref name="count"/> floats of packed A.</summary>
    public float* A(int count) => Aligned(ref _a, count);

    /// <summary>Room for at least <paramref name="count"/> floats of packed B.</summary>
    public float* B(int count) => Aligned(ref _b, count);

    /// <summary>Room for at least <paramref name="count"/> floats of a gathered vector.</summary>
    public float* X(int count) => Aligned(ref _x, count);

    /// <summary>Room for at least <paramref name="count"/> floats of a transposed batch (SparseGemm).</summary>
    public float* TransposedX(int count) => Aligned(ref _xt, count);

    private static float* Aligned(ref float[] buffer, int count)
    {
        // 16 spare floats let the start move up to the next cache line.
        if (buffer.Length < count + 16)
            buffer = GC.AllocateUninitializedArray<float>(count + 16, pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nint)63);
    }
}
