// Which tensors a pruning pass may touch: the weights (and optionally biases) of the graph's linear
// ops — Gemm, MatMul, Conv — chosen by name patterns. The graph says which initializer is a weight.
using System.Text.RegularExpressions;
using Condense.Graph;
using Condense.Nn;

namespace Condense.Pruning;

/// <summary>A weight tensor that pruning may change, and how it is laid out.</summary>
/// <param name="Name">The initializer's name (its state-dict name).</param>
/// <param name="Parameter">The tensor itself.</param>
/// <param name="Node">The op that reads it.</param>
/// <param name="IsBias">True for a bias.</param>
/// <param name="OutputAxis">The axis that indexes output neurons (0 for Gemm with transB, 1 for MatMul).</param>
public sealed record PrunableTensor(string Name, Parameter Parameter, Node Node, bool IsBias, int OutputAxis)
{
    /// <summary>Number of output neurons (rows of the weight in the Linear layout).</summary>
    public int Outputs => Parameter.Rank == 1 ? Parameter.Size : Parameter.Shape[OutputAxis];

    /// <summary>Inputs per neuron.</summary>
    public int InputsPerOutput => Parameter.Size / Math.Max(1, Outputs);
}

/// <summary>Finds prunable tensors in a model.</summary>
public static class Prunable
{
    private static readonly HashSet<string> LinearOps = [OpTypes.Gemm, OpTypes.MatMul, OpTypes.Conv];

    /// <summary>The weights (and, if asked, biases) of <paramref name="model"/> matching the options' patterns, in graph order.</summary>
    public static IReadOnlyList<PrunableTensor> Find(GraphModule model, PruneOptions options)
    {
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var include = options.Include.Select(Pattern).ToList();
        var exclude = options.Exclude.Select(Pattern).ToList();
        var result = new List<PrunableTensor>();
        var seen = new HashSet<string>();
        foreach (var node in model.Graph.Nodes.Where(n => LinearOps.Contains(n.OpType)))
        {
            for (int i = 1; i < node.Inputs.Count && i <= 2; i++)
            {
                string name = node.Inputs[i];
                bool isBias = i == 2;
                if (isBias && !options.IncludeBiases) continue;
                if (!parameters.TryGetValue(name, out var p) || !seen.Add(name)) continue;
                if (include.Count > 0 && !include.Any(r => r.IsMatch(name))) continue;
                if (exclude.Any(r => r.IsMatch(name))) continue;
                int outputAxis = node.OpType switch
                {
                    OpTypes.Gemm => node.Int("transB", 0) != 0 ? 0 : 1,
                    OpTypes.MatMul => 1,
                    _ => 0, // Conv: (out channels, in channels, kH, kW)
                };
                result.Add(new PrunableTensor(name, p, node, isBias, isBias ? 0 : outputAxis));
            }
        }
        if (result.Count == 0)
            throw new CondenseException("no tensor to prune: the model has no Gemm/MatMul/Conv weights matching the include/exclude patterns");
        return result;
    }

    /// <summary>A name pattern: '*' matches any run of characters and '?' one character; the whole name must match.</summary>
    public static Regex Pattern(string glob) =>
        new("^" + Regex.Escape(glob).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.CultureInvariant);
}
