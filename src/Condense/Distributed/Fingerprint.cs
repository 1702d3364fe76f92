// A 64-bit fingerprint of arrays, the same in every process (unlike HashCode, which is seeded per process): FNV-1a's
// xor-then-multiply over 8-byte words, enough to tell ranks that loaded different weights or data apart.
using System.Runtime.InteropServices;

namespace Condense.Distributed;

/// <summary>Process-independent 64-bit fingerprints of arrays.</summary>
public static class Fingerprint
{
    /// <summary>The start value (FNV-1a's offset basis).</summary>
    public const ulong Seed = 14695981039346656037UL;
    private const ulong Prime = 1099511628211UL;

    /// <summary>Mixes the bytes of <paramref name="values"/> (and their count) into <paramref name="hash"/>.</summary>
    public static ulong Add<T>(ulong hash, ReadOnlySpan<T> values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        var words = MemoryMarshal.Cast<byte, ulong>(bytes);
        foreach (ulong word in words) hash = (hash ^ word) * Prime;
        foreach (byte tail in bytes[(words.Length * 8)..]) hash = (hash ^ tail) * Prime;
        return (hash ^ (ulong)bytes.Length) * Prime;
    }

    /// <inheritdoc cref="Add{T}(ulong, ReadOnlySpan{T})"/>
    public static ulong Add<T>(ulong hash, T[] values) where T : unmanaged => Add(hash, (ReadOnlySpan<T>)values);
}
