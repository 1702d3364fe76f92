// When inference uses the sparse kernel: a weight whose own sparsity is above a threshold (measured
// by `bench sparse`: sparse wins from about 60–70% zeros at batch 1 and 70–80% at batch 256) gets a
// CSR copy, cached against the tensor's Version so that any change to the weights rebuilds it.
// Training never takes this path: gradients need the dense product.
using System.Runtime.CompilerServices;
using Condense.Kernels.Sparse;

namespace Condense.Tensors;

/// <summary>The policy and cache of sparse inference.</summary>
public static class SparseInference
{
    private sealed record Entry(int Version, CsrMatrix? Matrix, double Sparsity);

    private static readonly ConditionalWeakTable<Tensor, Entry> Cache = new();
    [ThreadStatic] private static bool _disabled;

    /// <summary>The sparsity from which a weight is multiplied sparsely for single samples.</summary>
    public static double MinSparsitySingle { get; set; } = 0.7;

    /// <summary>The sparsity from which a weight is multiplied sparsely for batches.</summary>
    public static double MinSparsityBatch { get; set; } = 0.8;

    /// <summary>Turns the sparse path off on this thread until disposed (for tests and benchmarks).</summary>
    public static Scope Disable() => new();

    /// <summary>Restores the sparse path on dispose.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly bool _previous;
        /// <summary>Turns the sparse path off.</summary>
        public Scope() { _previous = _disabled; _disabled = true; }
        /// <inheritdoc />
        public void Dispose() => _disabled = _previous;
    }

    /// <summary>The CSR form of a (rows × cols) weight when multiplying <paramref name="batch"/> rows sparsely pays, else null.</summary>
    internal static CsrMatrix? For(Tensor weight, int batch)
    {
        if (_disabled || weight.Rank != 2) return null;
        if (!Cache.TryGetValue(weight, out var entry) || entry.Version != weight.Version)
        {
            int zeros = 0;
            foreach (float v in weight.Data) if (v == 0f) zeros++;
            double sparsity = weight.Size == 0 ? 0 : (double)zeros / weight.Size;
            var matrix = sparsity >= Math.Min(MinSparsitySingle, MinSparsityBatch)
                ? CsrMatrix.FromDense(weight.Data, weight.Shape[0], weight.Shape[1]) : null;
            entry = new Entry(weight.Version, matrix, sparsity);
            Cache.AddOrUpdate(weight, entry);
        }
        double threshold = batch == 1 ? MinSparsitySingle : MinSparsityBatch;
        return entry.Sparsity >= threshold ? entry.Matrix : null;
    }
}
