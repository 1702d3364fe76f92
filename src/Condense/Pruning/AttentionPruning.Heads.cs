// Planning a head cut: which projections and Reshape entries carry a layer's head count. Under grouped-query attention
// (Ainslie et al. 2023, "GQA"; Llama 2 70B, Llama 3, Mistral, Qwen 2, SmolLM) n query heads share each key/value head,
// repeated n times before the scores (repeat_kv: Expand, then a Reshape). Heads then go by whole groups: a key/value head
// with its n query heads, so that the repetition still pairs every kept query head with its own key and value. The query
// projection loses the group's query heads, the key and value projections its key/value head, the output projection the
// query heads' rows; the Reshapes splitting keys and values hold the key/value head count, the others the query heads'.
using Condense.Graph;

namespace Condense.Pruning;

public static partial class AttentionPruning
{
    // What a Reshape entry counts: query heads (splitting the queries, or the repeated keys and values, where the count is
    // often computed from shapes), key/value heads, heads × head width (merging back), or three times that (fused, before
    // the Split).
    private enum HeadEntry { Heads, KeyValueHeads, RepeatedHeads, Merged, Fused }

    // GroupSize: query heads per key/value head (1 without grouped-query attention).
    private sealed record HeadPlan(LayerProjections Roles, int HeadWidth, int GroupSize, IReadOnlyList<(Node Reshape, HeadEntry Kind)> Reshapes,
        Node? Split);

    /// <summary>
    /// The key/value heads of <paramref name="layer"/>: fewer than its query heads under grouped-query attention (the key
    /// and value projections are narrower than the query's by a whole number of heads), else as many.
    /// </summary>
    public static int KeyValueHeads(ModelGraph graph, EncoderLayer layer)
    {
        var roles = Roles(layer);
        if (roles.FusedSplit is not null) return layer.Heads;
        int query = roles.QueryKey.Max(p => OutWidth(graph, p)), value = OutWidth(graph, roles.Value);
        if (value >= query || query % layer.Heads != 0 || value % (query / layer.Heads) != 0) return layer.Heads;
        int groups = value / (query / layer.Heads);
        return layer.Heads % groups == 0 ? groups : layer.Heads;
    }

    // Each key/value group's score: the L2 norm of its query heads' output-projection rows (each head alone without groups).
    private static double[] GroupScores(GraphModule model, EncoderLayer layer)
    {
        var heads = HeadScores(model, layer);
        int size = layer.Heads / KeyValueHeads(model.Graph, layer);
        return [.. heads.Chunk(size).Select(group => Math.Sqrt(group.Sum(s => s * s)))];
    }

    /// <summary>The query heads of the key/value <paramref name="groups"/> of <paramref name="layer"/> (the groups themselves without GQA).</summary>
    public static int[] HeadsOfGroups(ModelGraph graph, EncoderLayer layer, IEnumerable<int> groups)
    {
        int size = layer.Heads / KeyValueHeads(graph, layer);
        return [.. groups.SelectMany(g => Enumerable.Range(g * size, size))];
    }

    // The key/value heads kept when the query heads `change` keeps are whole groups of `size`; anything else is refused.
    private static int[] KeptGroups(LayerWidth change, int size)
    {
        var removed = change.Removed.ToHashSet();
        for (int g = 0; g < change.Before / size; g++)
            if (Enumerable.Range(g * size, size).Count(removed.Contains) is var gone && gone > 0 && gone < size)
                throw new CondenseException($"layer {change.Layer} has grouped-query attention ({size} query heads share each key/value head): "
                    + $"remove whole groups (heads {g * size}–{g * size + size - 1} together)");
        return [.. Enumerable.Range(0, change.Before / size).Where(g => !removed.Contains(g * size))];
    }

    private static HeadPlan PlanHeads(ModelGraph graph, GraphIndex index, EncoderLayer layer)
    {
        var roles = Roles(layer);
        bool fused = roles.FusedSplit is not null || roles.FusedPerHead;
        LinearNode[] inputs = fused ? [roles.Value] : [.. roles.QueryKey, roles.Value];
        Unshared(index, layer, [.. inputs, roles.Output]);
        // A fused projection writes query, key and value side by side (or head by head): three parts of the width.
        int parts = fused ? 3 : 1, width = InWidth(graph, roles.Output), groups = KeyValueHeads(graph, layer);
        int kvWidth = width / layer.Heads * groups;
        if (inputs.Any(p => OutWidth(graph, p) != width * parts && OutWidth(graph, p) != kvWidth * parts) || width % layer.Heads != 0
            || OutWidth(graph, roles.Value) != kvWidth * parts)
            throw new CondenseException($"layer {layer.Index}: the query, key, value and output projections do not share one width divisible "
                + $"by its {layer.Heads} heads");
        // Reshapes before the Softmax split the projections into heads; those after it merge them back; those before a fused
        // projection's Split hold all three. Under GQA those on the key and value path hold the key/value heads until the
        // repetition (an Expand or Tile) and the query heads after it.
        var afterSoftmax = index.Descendants(layer.Softmax.Outputs[0]);
        var beforeSplit = roles.FusedSplit is { } split ? index.Ancestors(split.Inputs[0]) : [];
        var query = inputs.First(p => OutWidth(graph, p) == width * parts);
        var queryPath = index.Descendants(query.Node.Outputs[0]);
        var keyValuePath = new HashSet<int>(inputs.Where(p => p != query).SelectMany(p => index.Descendants(p.Node.Outputs[0])));
        var reshapes = Reshapes(index, inputs.Select(p => p.Node), roles.Output.Node.Inputs[0]).Select(r =>
        {
            int at = index.ProducerIndex(r.Outputs[0])!.Value;
            var kind = beforeSplit.Contains(at) ? HeadEntry.Fused : afterSoftmax.Contains(at) ? HeadEntry.Merged
                : groups == layer.Heads || queryPath.Contains(at) ? HeadEntry.Heads
                : index.Ancestors(r.Inputs[0]).Any(i => keyValuePath.Contains(i) && graph.Nodes[i].OpType is OpTypes.Expand or OpTypes.Tile)
                    ? HeadEntry.RepeatedHeads
                : HeadEntry.KeyValueHeads;
            return (r, kind);
        }).ToList();
        return new HeadPlan(roles, width / layer.Heads, layer.Heads / groups, reshapes,
            roles.FusedSplit is { } fusedSplit ? graph.Nodes.First(n => n.Name == fusedSplit.Name) : null);
    }
}
