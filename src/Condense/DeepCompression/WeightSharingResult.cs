// The shared tensors of a model and the fine-tuning rule of Deep Compression §3.3: the gradient of a
// centroid is the sum of the gradients of the weights in its cluster, ∂L/∂C_k = Σ_{i: I_i = k} ∂L/∂W_i.
// The hooks give every weight of cluster k that shared gradient before the optimizer step, so the weights
// of a cluster (equal before the step, with equal optimizer state) take the same step; after it they are
// re-tied: C_k = mean of the cluster's updated weights, W_i = C_{I_i}. Pruned weights stay exactly 0.
// With plain SGD this is exactly C_k ← C_k − lr·Σ g_i; weight decay and momentum act per weight, so on
// the centroid once (not n_k times), as if the centroid itself were the parameter.
using Condense.Graph;
using Condense.Optim;
using Condense.Training;

namespace Condense.DeepCompression;

/// <summary>How the shared gradient of a cluster is formed from the gradients of its weights.</summary>
public enum CentroidGradient
{
    /// <summary>
    /// The paper's rule: the sum over the cluster. With plain SGD the centroid moves by −lr·Σ g_i, so the step of
    /// a large cluster grows with its size; scale the learning rate down accordingly.
    /// </summary>
    Sum,
    /// <summary>The mean over the cluster: the sum divided by the cluster's size (the paper's rule with lr / n_k).</summary>
    Mean,
}

/// <summary>Weight-shared tensors of a model, with the hooks that fine-tune their centroids.</summary>
public sealed class WeightSharingResult
{
    private readonly List<(WeightTensor Target, SharedWeights Shared)> _entries;
    private readonly Dictionary<Optimizer, int[]> _optimizerIndex = new(ReferenceEqualityComparer.Instance);

    /// <summary>Wraps the shared tensors.</summary>
    public WeightSharingResult(IEnumerable<(WeightTensor Target, SharedWeights Shared)> entries, int bits)
    {
        _entries = entries.ToList();
        foreach (var (target, shared) in _entries)
            if (shared.Size != target.Parameter.Size)
                throw new ArgumentException($"{target.Name}: shared weights of {shared.Size} for a tensor of {target.Parameter.Size}");
        Bits = bits;
    }

    /// <summary>Each shared tensor with its codebook and indices, in graph order.</summary>
    public IReadOnlyList<(WeightTensor Target, SharedWeights Shared)> Entries => _entries;

    /// <summary>Bits per index.</summary>
    public int Bits { get; }

    /// <summary>Replaces each weight's gradient with its cluster's shared gradient (sum or mean); zero for pruned weights.</summary>
    public void ShareGradients(CentroidGradient mode = CentroidGradient.Sum)
    {
        foreach (var (target, shared) in _entries)
        {
            if (target.Parameter.Grad is not { } grad) continue;
            var g = grad.Data;
            var clusterOf = shared.ClusterOf;
            var (sums, counts) = ClusterSums(g, clusterOf, shared.Centroids.Length);
            if (mode == CentroidGradient.Mean)
                for (int k = 0; k < sums.Length; k++) if (counts[k] > 0) sums[k] /= counts[k];
            for (int i = 0; i < g.Length; i++) g[i] = clusterOf[i] < 0 ? 0f : (float)sums[clusterOf[i]];
        }
    }

    /// <summary>
    /// Re-ties the weights: each centroid becomes the mean of its cluster's current weights (an empty cluster keeps
    /// its value), each kept weight is set to its centroid and each pruned weight to 0.
    /// </summary>
    public void Tie()
    {
        foreach (var (target, shared) in _entries)
        {
            var w = target.Parameter.Data;
            var (sums, counts) = ClusterSums(w, shared.ClusterOf, shared.Centroids.Length);
            for (int k = 0; k < sums.Length; k++) if (counts[k] > 0) shared.Centroids[k] = (float)(sums[k] / counts[k]);
            shared.ReconstructInto(w);
            target.Parameter.MarkModified();
        }
    }

    /// <summary>Zeroes the optimizer's state (momentum, moments) at pruned positions, as Pruning's MaskSet does.</summary>
    /// <remarks>At kept positions the state needs no tying: the weights of a cluster get equal gradients every step.</remarks>
    public void MaskOptimizerState(Optimizer optimizer)
    {
        if (!_optimizerIndex.TryGetValue(optimizer, out var indices))
        {
            var parameters = optimizer.Params.ToList();
            indices = _entries.Select(e => parameters.FindIndex(p => ReferenceEquals(p, e.Target.Parameter))).ToArray();
            _optimizerIndex[optimizer] = indices;
        }
        for (int e = 0; e < _entries.Count; e++)
        {
            if (indices[e] < 0) continue;
            var mask = _entries[e].Shared.Mask;
            foreach (var state in optimizer.State(indices[e]))
                for (int i = 0; i < state.Length; i++) if (!mask[i]) state[i] = 0f;
        }
    }

    /// <summary>
    /// Training hooks for centroid fine-tuning: before each step, <see cref="ShareGradients"/>; after it,
    /// <see cref="Tie"/> and <see cref="MaskOptimizerState"/>. Wraps <paramref name="inner"/> hooks if given.
    /// </summary>
    public TrainHooks Hooks(CentroidGradient gradient = CentroidGradient.Sum, TrainHooks? inner = null) => new()
    {
        Loss = inner?.Loss,
        BeforeStep = optimizer => { ShareGradients(gradient); inner?.BeforeStep?.Invoke(optimizer); },
        AfterStep = (optimizer, step) =>
        {
            Tie();
            MaskOptimizerState(optimizer);
            inner?.AfterStep?.Invoke(optimizer, step);
        },
    };

    // Per cluster: the sum (in double, in element order, so deterministic) and the count of the values.
    private static (double[] Sums, int[] Counts) ClusterSums(ReadOnlySpan<float> values, int[] clusterOf, int k)
    {
        var sums = new double[k];
        var counts = new int[k];
        for (int i = 0; i < values.Length; i++)
        {
            int c = clusterOf[i];
            if (c < 0) continue;
            sums[c] += values[i];
            counts[c]++;
        }
        return (sums, counts);
    }
}
