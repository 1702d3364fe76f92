// Which initializers are the weights of the graph's linear ops — Gemm, MatMul, Conv — and how they are
// laid out, chosen by name patterns. One query for every pass that works layer by layer (pruning,
// quantization, weight sharing), so none of them has to ask another pass where the layers are.
using System.Text.RegularExpressions;
using Condense.Nn;

namespace Condense.Graph;

/// <summary>A weight (or bias) tensor of a Gemm, MatMul or Conv node, and how it is laid out.</summary>
/// <param name="Name">The initializer's name (its state-dict name).</param>
/// <param name="Parameter">The tensor itself.</param>
/// <param name="Node">The op that reads it.</param>
/// <param name="IsBias">True for a bias.</param>
/// <param name="OutputAxis">The axis that indexes output neurons (0 for Gemm with transB, 1 for MatMul).</param>
public sealed record WeightTensor(string Name, Parameter Parameter, Node Node, bool IsBias, int OutputAxis)
{
    /// <summary>Number of output neurons (rows of the weight in the Linear layout).</summary>
    public int Outputs => Parameter.Rank == 1 ? Parameter.Size : Parameter.Shape[OutputAxis];

    /// <summary>Inputs per neuron.</summary>
    public int InputsPerOutput => Parameter.Size / Math.Max(1, Outputs);
}

/// <summary>Finds the weights of a model's linear layers.</summary>
public static class WeightLayers
{
    private static readonly HashSet<string> LinearOps = [OpTypes.Gemm, OpTypes.MatMul, OpTypes.Conv];

    /// <summary>
    /// The trainable weights (and, if asked, biases) of <paramref name="model"/>'s Gemm/MatMul/Conv nodes whose names match one of
    /// <paramref name="include"/> (all when empty) and none of <paramref name="exclude"/>, in graph order, each once. May be empty.
    /// </summary>
    public static IReadOnlyList<WeightTensor> Find(GraphModule model, IReadOnlyList<string>? include = null,
        IReadOnlyList<string>? exclude = null, bool includeBiases = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var included = (include ?? []).Select(Pattern).ToList();
        var excluded = (exclude ?? []).Select(Pattern).ToList();
        var result = new List<WeightTensor>();
        var seen = new HashSet<string>();
        foreach (var node in model.Graph.Nodes.Where(n => LinearOps.Contains(n.OpType)))
        {
            for (int i = 1; i < node.Inputs.Count && i <= 2; i++)
            {
                string name = node.Inputs[i];
                bool isBias = i == 2;
                if (isBias && !includeBiases) continue;
                if (!parameters.TryGetValue(name, out var p) || !seen.Add(name)) continue;
                if (included.Count > 0 && !included.Any(r => r.IsMatch(name))) continue;
                if (excluded.Any(r => r.IsMatch(name))) continue;
                int outputAxis = node.OpType switch
                {
                    OpTypes.Gemm => node.Int("transB", 0) != 0 ? 0 : 1,
                    OpTypes.MatMul => 1,
                    _ => 0, // Conv: (out channels, in channels, kH, kW)
                };
                result.Add(new WeightTensor(name, p, node, isBias, isBias ? 0 : outputAxis));
            }
        }
        return result;
    }

    /// <summary>
    /// The weight of the Gemm or MatMul that computes graph value <paramref name="output"/>, through a bias Add, Reshape,
    /// Identity or Cast after it (a language model's output head); null when no linear layer with an initializer weight does.
    /// </summary>
    public static WeightTensor? Producing(GraphModule model, string output)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        var node = graph.Producer(output);
        while (node is not null && node.OpType is OpTypes.Add or OpTypes.Reshape or OpTypes.Identity or OpTypes.Cast)
        {
            // An Add passes on its one computed operand (the other being the bias); the rest their data input.
            var computed = node.OpType == OpTypes.Add ? node.Inputs.Where(i => !graph.Initializers.ContainsKey(i)).ToList() : [node.Inputs[0]];
            node = computed.Count == 1 ? graph.Producer(computed[0]) : null;
        }
        if (node is null || node.OpType is not (OpTypes.Gemm or OpTypes.MatMul)) return null;
        return Find(model).FirstOrDefault(w => w.Node == node && !w.IsBias);
    }

    /// <summary>A name pattern: '*' matches any run of characters and '?' one character; the whole name must match.</summary>
    public static Regex Pattern(string glob) =>
        new("^" + Regex.Escape(glob).Replace("\\*", ".*").Replace("\\?", ".") + "$", RegexOptions.CultureInvariant);
}
