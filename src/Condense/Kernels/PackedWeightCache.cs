// When fp32 inference multiplies by a packed weight: a tensor seen as the right operand of two batched
// products (m > 1) at the same Version gets a packed copy (PackedGemmB), cached against its Version like the
// CSR copies of SparseInference.cs, so any recorded change to the weights repacks it. Waiting for the second
// sighting keeps one-off operands (activations, as in x·yᵀ) from being copied for nothing. Training never
// takes this path: its weights change every step.
using System.Runtime.CompilerServices;
using Condense.Tensors;

namespace Condense.Kernels;

/// <summary>The cache of packed fp32 GEMM weights for inference.</summary>
internal static class PackedWeightCache
{
    private sealed record Entry(int Version, bool TransB, KernelPath Path, PackedGemmB? Packed);

    private static readonly ConditionalWeakTable<Tensor, Entry> Cache = new();

    /// <summary>The packed op(<paramref name="b"/>) for the active kernel path, or null on its first sighting.</summary>
    public static PackedGemmB? For(Tensor b, bool transB)
    {
        if (b.Rank != 2) return null;
        var path = Cpu.Active;
        if (!Cache.TryGetValue(b, out var entry) || entry.Version != b.Version || entry.TransB != transB || entry.Path != path)
        {
            Cache.AddOrUpdate(b, new Entry(b.Version, transB, path, null));
            return null;
        }
        if (entry.Packed is null)
        {
            int k = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
            entry = entry with { Packed = new PackedGemmB(path, transB, k, n, b.Data, b.Shape[1]) };
            Cache.AddOrUpdate(b, entry);
        }
        return entry.Packed;
    }
}
