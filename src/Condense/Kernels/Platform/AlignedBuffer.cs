// The per-thread scratch of the kernels: a pinned array, grown when too small, seen from its first 64-byte boundary so that
// vector loads never split a cache line.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Condense.Kernels.Platform;

/// <summary>64-byte-aligned views of pinned, reusable arrays.</summary>
internal static unsafe class AlignedBuffer
{
    /// <summary>
    /// The first 64-byte boundary of <paramref name="pinned"/>, an array allocated pinned with 64 bytes to spare (kernels'
    /// prepared weights, kept between calls).
    /// </summary>
    public static T* Start<T>(T[] pinned) where T : unmanaged =>
        (T*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned)) + 63) & ~(nint)63);

    /// <summary>A 64-byte-aligned view of <paramref name="buffer"/> holding at least <paramref name="count"/> values (grown, pinned).</summary>
    public static T* Of<T>(ref T[]? buffer, long count) where T : unmanaged
    {
        int spare = 64 / sizeof(T);
        if (buffer is null || buffer.Length < count + spare)
            buffer = GC.AllocateUninitializedArray<T>(checked((int)count + spare), pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (T*)((p + 63) & ~(nint)63);
    }
}
