// Whether a graph is already quantized: a constant integer weight behind a DequantizeLinear (the QDQ form Quantizer
// and the ONNX importer produce) or read by MatMulInteger / ConvInteger. Passes that quantize, share or measure
// float weights (Quantizer, WeightSharing, Sensitivity) refuse such a graph with one line that says so, instead of
// failing later because they find no float weight.
namespace Condense.Graph;

/// <summary>Finds the integer weights of an already-quantized graph.</summary>
public static class QuantizedWeights
{
    /// <summary>The first constant integer weight of <paramref name="graph"/> and its type, or null for a float model.</summary>
    public static (string Name, ElementType Type)? First(ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        foreach (var node in graph.Nodes)
        {
            int index = node.OpType switch { OpTypes.DequantizeLinear => 0, OpTypes.MatMulInteger or OpTypes.ConvInteger => 1, _ => -1 };
            if (index < 0 || index >= node.Inputs.Count) continue;
            string name = node.Inputs[index];
            if (graph.Initializers.ContainsKey(name) && graph.TypeOf(name) != ElementType.Float32) return (name, graph.TypeOf(name));
        }
        return null;
    }

    /// <summary>Throws a one-line error when <paramref name="graph"/> already holds quantized weights.</summary>
    public static void ThrowIfQuantized(ModelGraph graph)
    {
        if (First(graph) is var (name, type))
            throw new CondenseException($"the model is already quantized ({type.ToString().ToLowerInvariant()} weights in {name})");
    }
}
