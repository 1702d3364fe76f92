// Weight sharing as a pass (Han et al. 2016, "Deep Compression", §3): per weight tensor, k-means with
// linear initialisation groups the non-zero weights into 2^b clusters; every weight is replaced by its
// cluster's centroid. Pruned weights (exact zeros, e.g. from Pruning/) stay zero and are not clustered.
// The result holds the codebooks and indices, and training hooks fine-tune the centroids (§3.3).
using Condense.Graph;

namespace Condense.DeepCompression;

/// <summary>k-means weight sharing.</summary>
public static class WeightSharing
{
    /// <summary>The smallest bits per index accepted by <see cref="Apply"/>.</summary>
    public const int MinBits = 2;

    /// <summary>The largest bits per index accepted by <see cref="Apply"/> (indices are stored in bytes).</summary>
    public const int MaxBits = 8;

    /// <summary>
    /// Clusters the non-zero values of <paramref name="weights"/> into at most 2^<paramref name="bits"/> shared values.
    /// Exact zeros are treated as pruned: masked out, not clustered, reconstructed as 0.
    /// </summary>
    public static SharedWeights Cluster(ReadOnlySpan<float> weights, int bits, int maxIterations = KMeans.DefaultMaxIterations)
    {
        ValidateBits(bits);
        var mask = new bool[weights.Length];
        var kept = new List<float>(weights.Length);
        for (int i = 0; i < weights.Length; i++)
            if (weights[i] != 0f) { mask[i] = true; kept.Add(weights[i]); }
        var fit = KMeans.Fit(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(kept), 1 << bits, maxIterations);
        var indices = new byte[kept.Count];
        for (int i = 0; i < indices.Length; i++) indices[i] = (byte)fit.Assignments[i];
        return new SharedWeights(fit.Centroids, indices, mask, bits);
    }

    /// <summary>
    /// Shares the weights of <paramref name="model"/>'s Gemm/MatMul/Conv weight tensors (biases excluded), each
    /// tensor with its own codebook of 2^<paramref name="bits"/> values, and writes the shared values into the model.
    /// </summary>
    /// <param name="model">The model; its weights change in place.</param>
    /// <param name="bits">Bits per index, 2–8.</param>
    /// <param name="include">Name patterns ('*', '?') of the tensors to share; null or empty means every weight.</param>
    public static WeightSharingResult Apply(GraphModule model, int bits, IReadOnlyList<string>? include = null)
    {
        ValidateBits(bits);
        QuantizedWeights.ThrowIfQuantized(model.Graph);
        var targets = WeightLayers.Find(model, include);
        if (targets.Count == 0)
            throw new CondenseException("no tensor to share: the model has no Gemm/MatMul/Conv weights matching the include patterns");
        var entries = new List<(WeightTensor, SharedWeights)>(targets.Count);
        foreach (var target in targets)
        {
            var shared = Cluster(target.Parameter.Data, bits);
            shared.ReconstructInto(target.Parameter.Data);
            target.Parameter.MarkModified();
            entries.Add((target, shared));
        }
        return new WeightSharingResult(entries, bits);
    }

    private static void ValidateBits(int bits)
    {
        if (bits is < MinBits or > MaxBits) throw new CondenseException($"weight sharing needs {MinBits} to {MaxBits} bits, got {bits}");
    }
}
