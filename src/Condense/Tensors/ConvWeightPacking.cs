// Inference convolutions pack their weight once (Kernels/Conv/Conv2dPackedWeights) and reuse it while the weight
// tensor is unchanged: the packed form is kept against the tensor and its Version, so an optimizer step, a pruning mask
// or any write followed by MarkModified repacks it. Training never takes this path (the weight changes every step).
using System.Runtime.CompilerServices;
using Condense.Kernels.Conv;

namespace Condense.Tensors;

/// <summary>The packed forms of convolution weights kept for inference.</summary>
internal static class ConvWeightPacking
{
    private sealed record Entry(int Version, Conv2dPackedWeights Packed);

    private static readonly ConditionalWeakTable<Tensor, Entry> Cache = new();

    /// <summary>The packed form to reuse for <paramref name="weight"/> when gradients are off, else null (pack per call).</summary>
    public static Conv2dPackedWeights? For(Tensor weight)
    {
        if (Autograd.GradMode.Enabled) return null;
        if (Cache.TryGetValue(weight, out var entry) && entry.Version == weight.Version) return entry.Packed;
        entry = new Entry(weight.Version, new Conv2dPackedWeights());
        Cache.AddOrUpdate(weight, entry);
        return entry.Packed;
    }
}
