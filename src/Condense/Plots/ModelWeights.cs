// The weights a histogram shows: for each Gemm, MatMul and Conv of a graph, its float weight as stored, or, for a
// quantized layer, the integer codes behind its DequantizeLinear (MatMulInteger, ConvInteger: the integer weight
// input), which show the levels quantization left. A weight-shared model stores float values taken from each layer's
// codebook, so its histogram shows the centroids as spikes.
using Condense.Graph;

namespace Condense.Plots;

/// <summary>The weight of one layer.</summary>
/// <param name="Tensor">The initializer's name.</param>
/// <param name="Values">The values (a copy), in the tensor's order.</param>
/// <param name="Codes">The element type of integer codes (quantized), or null for float weights.</param>
public sealed record LayerWeights(string Tensor, float[] Values, ElementType? Codes);

/// <summary>Finds the weights of a graph's linear layers.</summary>
public static class ModelWeights
{
    /// <summary>The weight of every Gemm, MatMul and Conv whose weight is an initializer (or the dequantization of one), in graph order.</summary>
    public static IReadOnlyList<LayerWeights> Of(ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var producers = new Dictionary<string, Node>();
        foreach (var node in graph.Nodes) foreach (var output in node.Outputs) producers[output] = node;
        var result = new List<LayerWeights>();
        var seen = new HashSet<string>();
        foreach (var node in graph.Nodes)
        {
            if (node.Inputs.Count < 2) continue;
            string weight = node.Inputs[1];
            string? stored = node.OpType switch
            {
                OpTypes.Gemm or OpTypes.MatMul or OpTypes.Conv => graph.Initializers.ContainsKey(weight) ? weight
                    : producers.TryGetValue(weight, out var p) && p.OpType == OpTypes.DequantizeLinear ? p.Inputs[0] : null,
                OpTypes.MatMulInteger or OpTypes.ConvInteger => weight,
                _ => null,
            };
            if (stored is null || !graph.Initializers.TryGetValue(stored, out var tensor) || !seen.Add(stored)) continue;
            var type = graph.TypeOf(stored);
            result.Add(new LayerWeights(stored, tensor.Data.ToArray(), type == ElementType.Float32 ? null : type));
        }
        return result;
    }

    /// <summary>The layer with the most weights (the first of equals), or null for a graph without linear layers.</summary>
    public static LayerWeights? Largest(ModelGraph graph) => Of(graph).MaxBy(w => w.Values.Length);
}
