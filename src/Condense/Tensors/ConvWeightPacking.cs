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

    // Calls on this thread that keep nothing (the load-time dry run): a pass at one batch size would otherwise leave
    // packed forms that a later batch size does not use — ResNet-18's batch-1 dry run left an F(2×2) Winograd weight
    // beside batch 8's F(4×4) in its five 512-channel layers, 50 MB.
    [ThreadStatic] private static int t_suspended;

    /// <summary>Until disposed, <see cref="For"/> returns null on this thread: convolutions pack per call and keep nothing.</summary>
    public static IDisposable Suspended()
    {
        t_suspended++;
        return new Resume();
    }

    /// <summary>Whether packed forms are kept on this thread now: gradients off and not <see cref="Suspended"/>.</summary>
    public static bool Keeps => !Autograd.GradMode.Enabled && t_suspended == 0;

    /// <summary>The packed form to reuse for <paramref name="weight"/> when gradients are off, else null (pack per call).</summary>
    public static Conv2dPackedWeights? For(Tensor weight)
    {
        if (!Keeps) return null;
        if (Cache.TryGetValue(weight, out var entry) && entry.Version == weight.Version) return entry.Packed;
        entry = new Entry(weight.Version, new Conv2dPackedWeights());
        Cache.AddOrUpdate(weight, entry);
        return entry.Packed;
    }

    private sealed class Resume : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            t_suspended--;
        }
    }
}
