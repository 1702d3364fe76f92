// A Gemm and the activation after it onto one FusedGemm, as ONNX Runtime's GemmActivationFusion does: the ReLU of an MLP's
// Linear layers, and the GELU of a transformer's feed-forward layer, whose Gemm FloatGraphFusion made of MatMul + bias and
// whose output it reshapes back to [batch, tokens, 4·hidden] before the Gelu reads it. Either way the activation then runs on
// each tile of the product as the GEMM finishes it (Graph/GraphOps.FusedGemm.cs) instead of as a pass over the activations.
// Only float Gemms (a float32 initializer as B) whose output one Relu or one exact Gelu reads fuse, directly or through one
// Reshape nothing else reads (an elementwise op commutes with a reshape: Gelu(Reshape(y)) = Reshape(Gelu(y))); the Reshape then
// moves after the FusedGemm, at the activation's place, writing its output.
using Condense.Graph;

namespace Condense.Inference;

/// <summary>Fuses each Gemm with the Relu or Gelu after it.</summary>
internal static class GemmActivationFusion
{
    /// <summary>A copy of <paramref name="graph"/> (sharing its initializers) with its Gemm + activation pairs fused; null when none.</summary>
    public static ModelGraph? Fuse(ModelGraph graph)
    {
        var matcher = new Matcher(graph);
        var replacements = new Dictionary<Node, IReadOnlyList<Node>>();
        foreach (var node in graph.Nodes)
            if (matcher.Match(node) is { } fused)
                foreach (var (original, nodes) in fused) replacements[original] = nodes;
        return replacements.Count == 0 ? null : GraphPattern.Rewrite(graph, replacements);
    }

    private sealed class Matcher(ModelGraph graph) : GraphPattern(graph)
    {
        // The replacements for `activation` when it reads a Gemm (or a Reshape of one): the Gemm removed, the FusedGemm (and the
        // Reshape after it) at the activation's place.
        public (Node Original, Node[] Nodes)[]? Match(Node activation)
        {
            if (Activation(activation) is not { } name || activation.Inputs.Count != 1 || activation.Outputs.Count != 1) return null;
            var reshape = OnlyFeeds(activation.Inputs[0], OpTypes.Reshape);
            string product = reshape is null ? activation.Inputs[0] : reshape.Inputs[0];
            if (OnlyFeeds(product, OpTypes.Gemm) is not { Inputs.Count: 2 or 3 } gemm || !FloatWeight(gemm.Inputs[1])) return null;
            var attributes = new Dictionary<string, AttributeValue>(gemm.Attributes) { ["activation"] = AttributeValue.String(name) };
            if (reshape is null)
                return [(gemm, []), (activation, [new Node(gemm.Name, OpTypes.FusedGemm, gemm.Inputs, activation.Outputs, attributes)])];
            var fused = new Node(gemm.Name, OpTypes.FusedGemm, gemm.Inputs, gemm.Outputs, attributes);
            var reshaped = new Node(reshape.Name, OpTypes.Reshape, reshape.Inputs, activation.Outputs, reshape.Attributes);
            return [(gemm, []), (reshape, []), (activation, [fused, reshaped])];
        }

        // The FusedGemm activation of a Relu, or of a Gelu of the exact (erf) form; null for anything else.
        private static string? Activation(Node node) => node.OpType switch
        {
            OpTypes.Relu => OpTypes.Relu,
            OpTypes.Gelu when !node.Attributes.TryGetValue("approximate", out var a) || a.StringValue == "none" => OpTypes.Gelu,
            _ => null,
        };

        private bool FloatWeight(string name) =>
            Graph.Initializers.TryGetValue(name, out var w) && w.DataType == Tensors.DataType.Float32 && Graph.TypeOf(name) == ElementType.Float32;
    }
}
