// A bias added to a layer's attention scores that holds a value per head: MPNet's relative-position bias (a table
// [buckets, heads] gathered by the relative distance of every query and key, Song et al. 2020) and T5's (Raffel et al.
// 2020). Hugging Face computes it once and adds it in every layer, so when layers keep different heads each gets its own
// copy of the computation from the table on, with the table cut to the heads that layer keeps.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

internal static class HeadBias
{
    /// <summary>
    /// Gives <paramref name="layer"/>'s per-head score biases the heads in <paramref name="keep"/> (of <paramref name="before"/>):
    /// each float table with one axis of <paramref name="before"/> entries that a term added to the scores is computed from
    /// is copied, cut to those heads, and the term is read from a copy of its computation that starts at the cut table.
    /// Returns those copied nodes with the node they go before; they are inserted once every layer is planned, so that
    /// <paramref name="index"/> stays true until then.
    /// </summary>
    public static List<(Node Before, List<Node> Copies)> Narrow(ModelGraph graph, GraphIndex index, EncoderLayer layer, int before, int[] keep)
    {
        var insertions = new List<(Node, List<Node>)>();
        var roles = layer.Projections!;
        // The scores' own data: everything computed from the query, key and value projections.
        var projected = roles.QueryKey.Append(roles.Value).SelectMany(p => index.Descendants(p.Node.Outputs[0])).ToHashSet();
        string layerInput = roles.Value.Node.Inputs[0];
        var scoresPath = index.Ancestors(layer.Softmax.Inputs[0]);
        foreach (int at in scoresPath.Where(projected.Contains).Order())
        {
            var add = graph.Nodes[at];
            if (add.OpType != OpTypes.Add || add.Inputs.Count != 2) continue;
            for (int side = 0; side < 2; side++)
            {
                string term = add.Inputs[side];
                if (index.ProducerIndex(term) is not int producer || projected.Contains(producer)) continue;
                var computation = Computation(graph, index, term);
                // A term computed from the layer's input (beyond its shape) is data, not a bias: the projections' own Adds.
                if (computation.Any(i => graph.Nodes[i].OpType is not (OpTypes.Shape or OpTypes.Size) && graph.Nodes[i].Inputs.Contains(layerInput)))
                    continue;
                var tables = computation.SelectMany(i => graph.Nodes[i].Inputs).Distinct().Where(v => IsTable(graph, v, before)).Order().ToList();
                if (tables.Count == 0) continue;
                if (tables.Count > 1)
                    throw new CondenseException($"layer {layer.Index}: a bias added to its attention scores is computed from several per-head tables "
                        + $"({string.Join(", ", tables)}): not supported");
                string table = tables[0];
                var shape = graph.Initializers[table].Shape;
                int axis = Array.IndexOf(shape, before);
                if (Array.LastIndexOf(shape, before) != axis)
                    throw new CondenseException($"layer {layer.Index}: the per-head table {table} {Shape.Format(shape)} has more than one axis of "
                        + $"{before}: which holds the heads is unclear");
                string suffix = $".layer{layer.Index}";
                string copy = Unique(graph, table + suffix);
                graph.Initializers[copy] = StructuredPruning.Select(graph.Initializers[table], axis, 1, keep);
                // The nodes from the table to the term, copied in order, reading the cut copy.
                var renamed = new Dictionary<string, string> { [table] = copy };
                var copies = new List<Node>();
                foreach (int i in computation.Intersect(index.Descendants(table)).Order())
                {
                    var node = graph.Nodes[i];
                    var outputs = node.Outputs.Select(o => renamed[o] = Unique(graph, o + suffix)).ToList();
                    copies.Add(new Node(node.Name + suffix, node.OpType, node.Inputs.Select(v => renamed.GetValueOrDefault(v, v)), outputs, node.Attributes));
                }
                add.Inputs[side] = renamed[term];
                insertions.Add((add, copies));
            }
        }
        return insertions;
    }

    // The nodes `term` is computed from, not following the data into a Shape or Size (whose output depends on the shape alone).
    private static HashSet<int> Computation(ModelGraph graph, GraphIndex index, string term)
    {
        var found = new HashSet<int>();
        var pending = new Stack<string>([term]);
        while (pending.TryPop(out var v))
            if (index.ProducerIndex(v) is int i && found.Add(i) && graph.Nodes[i].OpType is not (OpTypes.Shape or OpTypes.Size))
                foreach (var input in graph.Nodes[i].Inputs.Where(x => x.Length > 0)) pending.Push(input);
        return found;
    }

    private static bool IsTable(ModelGraph graph, string value, int heads) =>
        graph.Initializers.TryGetValue(value, out var t) && t.DataType == DataType.Float32 && t.Rank >= 2 && t.Shape.Contains(heads);

    private static string Unique(ModelGraph graph, string name)
    {
        while (graph.Initializers.ContainsKey(name) || graph.Nodes.Any(n => n.Outputs.Contains(name))) name += "_";
        return name;
    }
}
