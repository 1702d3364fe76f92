// Inference GEMMs pack a constant B once (Kernels/FloatGemm/GemmPackedB: all-MiniLM-L6-v2's projections at 128 tokens
// spent ~8 % of each product re-packing the weight) and reuse it while the weight tensor is unchanged: the packed form is
// kept against the tensor, its Version, the transpose and the kernel path, so an optimizer step, a pruning mask or any
// write followed by MarkModified repacks it (as ConvWeightPacking does for convolutions). Only a tensor that requires a
// gradient — a parameter — read with gradients off qualifies: an activation as B is new on every call, and packing it
// to keep would cost what packing it per call does, plus the copy's memory.
using System.Runtime.CompilerServices;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Tensors;

/// <summary>The packed forms of GEMM weights kept for inference.</summary>
internal static class GemmWeightPacking
{
    private sealed record Entry(int Version, bool TransB, GemmPackedB Packed);

    private static readonly ConditionalWeakTable<Tensor, Entry> Cache = new();

    /// <summary>op(<paramref name="weight"/>) packed for the active path when gradients are off and it is a parameter, else null.</summary>
    public static GemmPackedB? For(Tensor weight, bool transB)
    {
        if (Autograd.GradMode.Enabled || !weight.RequiresGrad || weight.Rank != 2 || weight.DataType != DataType.Float32) return null;
        var path = Cpu.Active;
        if (Cache.TryGetValue(weight, out var entry) && entry.Version == weight.Version && entry.TransB == transB && entry.Packed.Path == path)
            return entry.Packed;
        var (k, n) = transB ? (weight.Shape[1], weight.Shape[0]) : (weight.Shape[0], weight.Shape[1]);
        entry = new Entry(weight.Version, transB, GemmPackedB.Pack(transB, k, n, weight.Data, weight.Shape[1]));
        Cache.AddOrUpdate(weight, entry);
        return entry.Packed;
    }
}
