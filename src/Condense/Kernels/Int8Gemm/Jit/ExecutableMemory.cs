// Pages for runtime-emitted machine code, from the Linux kernel: mmap(2) an anonymous read-write mapping, copy the
// code in, then mprotect(2) it read+execute, so that no page is ever writable and executable at once (W^X). The
// kernels live as long as the process, so the pages are never unmapped. Linux x86-64 only (the flag values
// below are Linux's); callers check the OS and fall back to managed kernels on any failure.
using System.Runtime.InteropServices;

namespace Condense.Kernels.Int8Gemm.Jit;

/// <summary>Read+execute copies of machine code (Linux).</summary>
internal static unsafe partial class ExecutableMemory
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;

    /// <summary>The address of an executable copy of <paramref name="code"/>, or null if the kernel refused.</summary>
    public static byte* Publish(ReadOnlySpan<byte> code)
    {
        nuint length = (nuint)code.Length;
        nint page = Map(0, length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (page == -1) return null;
        code.CopyTo(new Span<byte>((void*)page, code.Length));
        return Protect(page, length, ProtRead | ProtExec) == 0 ? (byte*)page : null;
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint Map(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Protect(nint address, nuint length, int protection);
}
