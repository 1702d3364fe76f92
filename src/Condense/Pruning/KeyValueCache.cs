// A decoder exported with a key/value cache (Optimum's "with past") declares each layer's cache as graph inputs
// past_key_values.N.key/value and outputs present.N.key/value of shape [batch, heads, length, head width]. Removing a
// layer's heads narrows what its Concat of past and new keys joins, so the declared head count of that layer's cache
// follows: the empty cache a first step is fed takes its shape from the declaration.
using Condense.Graph;

namespace Condense.Pruning;

internal static class KeyValueCache
{
    /// <summary>The cache inputs read and outputs written inside <paramref name="layer"/> declare <paramref name="after"/> heads.</summary>
    public static void Narrow(ModelGraph graph, GraphIndex index, EncoderLayer layer, int before, int after, int headWidth)
    {
        for (int i = 0; i < graph.Inputs.Count; i++)
            if (IsCache(graph.Inputs[i], before, headWidth) && index.ConsumersOf(graph.Inputs[i].Name).Any(c => layer.Nodes.Contains(c.Name)))
                graph.Inputs[i] = Narrowed(graph.Inputs[i], after);
        for (int i = 0; i < graph.Outputs.Count; i++)
            if (IsCache(graph.Outputs[i], before, headWidth) && index.ProducerIndex(graph.Outputs[i].Name) is int p
                && layer.Nodes.Contains(graph.Nodes[p].Name))
                graph.Outputs[i] = Narrowed(graph.Outputs[i], after);
    }

    private static bool IsCache(ValueInfo value, int heads, int headWidth) =>
        value.Shape.Length == 4 && value.Shape[1] == heads && (value.Shape[3] == headWidth || value.Shape[3] < 0);

    private static ValueInfo Narrowed(ValueInfo value, int heads) => value with { Shape = [value.Shape[0], heads, value.Shape[2], value.Shape[3]] };
}
