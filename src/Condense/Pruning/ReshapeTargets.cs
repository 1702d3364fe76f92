// The constant entries of Reshape targets that carry a layer's width (a head count, heads × head width, a hidden
// size) and must follow it when heads or neurons are removed. Exporters write a target either as one constant or as
// a Concat of pieces, some computed from Shape (batch, length), some constant ([heads], [head width]); an entry is
// found by its value among the constant parts. 0 (copy the input's dimension) and −1 (inferred) are never widths and
// never change. A constant or a Concat that anything else also reads (another layer, another entry of the same
// Concat, a Reshape that keeps its width) is copied first, so that only this Reshape sees the new value.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>Rewrites width entries of Reshape targets in place in a graph.</summary>
internal static class ReshapeTargets
{
    /// <summary>
    /// Changes the first constant entry equal to <paramref name="old"/> in the target of <paramref name="reshape"/> to
    /// <paramref name="replacement"/>. A target without one is fine when it has a −1 (the width is inferred), an error
    /// (naming <paramref name="context"/>) otherwise. Heads come before the head width in [.., heads, width] targets,
    /// so when the two are equal the first entry is the head count.
    /// </summary>
    public static void Replace(ModelGraph graph, Node reshape, long old, long replacement, string context)
    {
        string target = reshape.Inputs[1];
        if (graph.Initializers.ContainsKey(target))
        {
            if (!Values(graph, target).Contains(old))
            {
                if (Values(graph, target).Contains(-1)) return;
                throw Missing(reshape, old, context, "its constant target");
            }
            Own(graph, reshape, 1);
            Set(graph, reshape.Inputs[1], old, replacement);
            return;
        }
        var concat = graph.Producer(target);
        if (concat is null || concat.OpType != OpTypes.Concat) throw Missing(reshape, old, context, $"its target, computed by {concat?.OpType ?? "an input"}");
        bool Constant(string piece) => graph.Initializers.ContainsKey(piece);
        int slot = concat.Inputs.FindIndex(p => Constant(p) && Values(graph, p).Contains(old));
        if (slot < 0)
        {
            if (concat.Inputs.Any(p => Constant(p) && Values(graph, p).Contains(-1))) return;
            throw Missing(reshape, old, context, $"the constant pieces of its target Concat {concat.Name}");
        }
        concat = OwnConcat(graph, concat, reshape);
        Own(graph, concat, slot);
        Set(graph, concat.Inputs[slot], old, replacement);
    }

    /// <summary>True when the target of <paramref name="reshape"/> has a constant entry equal to <paramref name="value"/>.</summary>
    public static bool Has(ModelGraph graph, Node reshape, long value)
    {
        string target = reshape.Inputs[1];
        if (graph.Initializers.ContainsKey(target)) return Values(graph, target).Contains(value);
        return graph.Producer(target) is { OpType: OpTypes.Concat } concat
            && concat.Inputs.Any(p => graph.Initializers.ContainsKey(p) && Values(graph, p).Contains(value));
    }

    private static long[] Values(ModelGraph graph, string name) => graph.Initializers[name].ToInt64Values();

    private static CondenseException Missing(Node reshape, long old, string context, string where) =>
        new($"{context}: reshape {reshape.Name} has no entry {old} in {where} to change; head and neuron removal cannot rewrite it");

    // The entry in a copy of the tensor: tensors are never changed in place, another graph may share them.
    private static void Set(ModelGraph graph, string name, long old, long replacement)
    {
        var copy = graph.Initializers[name].Clone();
        int at = Array.IndexOf(copy.ToInt64Values(), old);
        if (copy.DataType.Storage() == TensorStorage.Int64) copy.Int64Data[at] = replacement;
        else copy.Data[at] = replacement;
        graph.Initializers[name] = copy;
    }

    // Gives input `slot` of `reader` a constant of its own when any other input (of any node, or of this one) or a
    // graph output reads the same one.
    internal static void Own(ModelGraph graph, Node reader, int slot)
    {
        string name = reader.Inputs[slot];
        bool shared = graph.Outputs.Any(o => o.Name == name) || graph.Nodes.Sum(n => n.Inputs.Count(i => i == name)) > 1;
        if (!shared) return;
        string copy = Fresh($"{name}/{reader.Name}", ValueNames(graph));
        graph.Initializers.Add(copy, graph.Initializers[name].Clone());
        if (graph.ElementTypes.TryGetValue(name, out var type)) graph.ElementTypes[copy] = type;
        reader.Inputs[slot] = copy;
    }

    // The Concat itself, or a copy right after it that only `reshape` reads when anything else reads its output.
    private static Node OwnConcat(ModelGraph graph, Node concat, Node reshape)
    {
        string output = concat.Outputs[0];
        bool shared = graph.Outputs.Any(o => o.Name == output) || graph.Nodes.Sum(n => n.Inputs.Count(i => i == output)) > 1;
        if (!shared) return concat;
        var copy = new Node(Fresh($"{concat.Name}/{reshape.Name}", graph.Nodes.Select(n => n.Name).ToHashSet()), concat.OpType, concat.Inputs,
            [Fresh($"{output}/{reshape.Name}", ValueNames(graph))], concat.Attributes);
        graph.Nodes.Insert(graph.Nodes.IndexOf(concat) + 1, copy);
        reshape.Inputs[1] = copy.Outputs[0];
        return copy;
    }

    private static HashSet<string> ValueNames(ModelGraph graph) =>
        [.. graph.Inputs.Select(i => i.Name), .. graph.Initializers.Keys, .. graph.Nodes.SelectMany(n => n.Outputs)];

    private static string Fresh(string stem, HashSet<string> taken)
    {
        string name = stem;
        for (int k = 2; taken.Contains(name); k++) name = $"{stem}/{k}";
        return name;
    }
}
