// Which tensors a pruning pass may touch: the weights (and optionally biases) of the graph's linear
// ops — Gemm, MatMul, Conv — chosen by name patterns. The graph says which initializer is a weight (WeightLayers).
using Condense.Graph;

namespace Condense.Pruning;

/// <summary>Finds prunable tensors in a model.</summary>
public static class Prunable
{
    /// <summary>The weights (and, if asked, biases) of <paramref name="model"/> matching the options' patterns, in graph order.</summary>
    public static IReadOnlyList<WeightTensor> Find(GraphModule model, PruneOptions options)
    {
        var result = WeightLayers.Find(model, options.Include, options.Exclude, options.IncludeBiases);
        if (result.Count == 0)
            throw new CondenseException("no tensor to prune: the model has no Gemm/MatMul/Conv weights matching the include/exclude patterns");
        return result;
    }
}
