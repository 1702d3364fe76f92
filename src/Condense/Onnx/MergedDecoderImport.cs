// Hugging Face Optimum's merged decoders (decoder_model_merged.onnx, as transformers.js models ship them) hold the whole
// model in one If on the boolean input use_cache_branch: its then-branch the decoder that reads a key/value cache, its
// else-branch the decoder without one (optimum/onnx/graph_transformations.py, merge_decoders). Condense runs a decoder from
// an empty cache, where both branches compute the same logits, so the else-branch is the model: its nodes and initializers
// take the If's place, its outputs named as the If's, and use_cache_branch and the cache inputs that only the other branch
// read are dropped (ONNX Runtime then runs the imported model without them). Any other control flow stays refused in one
// line.
using Condense.Graph;
using Onnx;

namespace Condense.Onnx;

/// <summary>Reads a merged decoder's If on use_cache_branch as its branch without the cache.</summary>
internal static class MergedDecoderImport
{
    /// <summary>The boolean input Optimum's merged decoders branch on.</summary>
    public const string CacheBranchInput = "use_cache_branch";

    private const string If = "If";

    /// <summary>Replaces the If on <see cref="CacheBranchInput"/> in <paramref name="graph"/> by its else-branch; refuses any other If.</summary>
    public static void Inline(GraphProto graph, string path)
    {
        bool inlined = false;
        for (int at = 0; at < graph.Node.Count; at++)
        {
            var node = graph.Node[at];
            if (node.OpType != If || node.Domain is not ("" or "ai.onnx")) continue;
            string name = node.Name.Length > 0 ? node.Name : $"{If}_{at}";
            if (node.Input is not [CacheBranchInput] || !graph.Input.Any(i => i.Name == CacheBranchInput))
                throw new InvalidFileException(path, $"node '{name}' (If): control flow is not supported, except the If on '{CacheBranchInput}' "
                    + "of a merged decoder (read without the cache)");
            var branch = node.Attribute.FirstOrDefault(a => a.Name == "else_branch")?.G
                ?? throw new InvalidFileException(path, $"node '{name}' (If) has no else_branch");
            if (branch.Output.Count != node.Output.Count)
                throw new InvalidFileException(path, $"node '{name}' (If): its else_branch has {branch.Output.Count} outputs, the If {node.Output.Count}");
            var nodes = Branch(branch, node, name);
            graph.Node.RemoveAt(at);
            for (int i = 0; i < nodes.Count; i++) graph.Node.Insert(at + i, nodes[i]);
            graph.Initializer.Add(branch.Initializer);
            graph.ValueInfo.Add(branch.ValueInfo);
            at += nodes.Count - 1;
            inlined = true;
        }
        if (inlined) DropUnread(graph);
    }

    // The branch's nodes with its outputs renamed to the If's; an output the branch passes through (an outer value or one
    // of its initializers) becomes an Identity.
    private static List<NodeProto> Branch(GraphProto branch, NodeProto node, string name)
    {
        var made = branch.Node.SelectMany(n => n.Output).Where(o => o.Length > 0).ToHashSet();
        var rename = new Dictionary<string, string>();
        var nodes = new List<NodeProto>();
        for (int i = 0; i < branch.Output.Count; i++)
        {
            string inner = branch.Output[i].Name, outer = node.Output[i];
            if (outer.Length == 0) continue;
            if (made.Contains(inner) && rename.TryAdd(inner, outer)) continue;
            var identity = new NodeProto { Name = $"{name}/output{i}", OpType = OpTypes.Identity };
            identity.Input.Add(inner);
            identity.Output.Add(outer);
            nodes.Add(identity);
        }
        string Renamed(string value) => rename.GetValueOrDefault(value, value);
        var body = branch.Node.Select(n =>
        {
            var copy = n.Clone();
            for (int k = 0; k < copy.Input.Count; k++) copy.Input[k] = Renamed(copy.Input[k]);
            for (int k = 0; k < copy.Output.Count; k++) copy.Output[k] = Renamed(copy.Output[k]);
            return copy;
        });
        return [.. body, .. nodes];
    }

    // use_cache_branch and the inputs only the other branch read: inputs no node reads and no output passes on.
    private static void DropUnread(GraphProto graph)
    {
        var read = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet();
        for (int i = graph.Input.Count - 1; i >= 0; i--)
            if (!read.Contains(graph.Input[i].Name)) graph.Input.RemoveAt(i);
    }
}
