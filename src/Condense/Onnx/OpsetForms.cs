// When a graph is written at a higher opset than the one it was imported at (int4 weights need opset 21, Condense's
// quantization ops 13), the nodes whose form changed in between are rewritten into the new form, so the file is valid
// at the opset it declares: axes and split sizes moved from attributes to int64 inputs — ReduceSum, Squeeze,
// Unsqueeze and Split at opset 13, the other reductions at 18 (https://onnx.ai/onnx/operators/, the ops' changelogs).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

internal static class OpsetForms
{
    // The opset at which each op's listed attribute became an input (input index 1).
    private static readonly Dictionary<string, (int Opset, string Attribute)> AttributeToInput = new()
    {
        [OpTypes.ReduceSum] = (13, "axes"), [OpTypes.Squeeze] = (13, "axes"), [OpTypes.Unsqueeze] = (13, "axes"), [OpTypes.Split] = (13, "split"),
        [OpTypes.ReduceMean] = (18, "axes"), [OpTypes.ReduceMax] = (18, "axes"), [OpTypes.ReduceMin] = (18, "axes"),
        [OpTypes.ReduceProd] = (18, "axes"), [OpTypes.ReduceSumSquare] = (18, "axes"), [OpTypes.ReduceL1] = (18, "axes"),
        [OpTypes.ReduceL2] = (18, "axes"), [OpTypes.ReduceLogSum] = (18, "axes"), [OpTypes.ReduceLogSumExp] = (18, "axes"),
    };

    /// <summary>
    /// <paramref name="graph"/> as it must be written at <paramref name="opset"/> when it was read at <paramref name="own"/>:
    /// the graph itself when nothing changes, else a copy with the changed nodes rewritten.
    /// </summary>
    public static ModelGraph Raise(ModelGraph graph, int own, int opset)
    {
        var changing = graph.Nodes.Where(n => AttributeToInput.TryGetValue(n.OpType, out var form) && own < form.Opset && opset >= form.Opset
            && n.Attributes.ContainsKey(form.Attribute)).Select(n => n.Name).ToHashSet();
        if (changing.Count == 0) return graph;
        var raised = graph.Clone();
        foreach (var node in raised.Nodes.Where(n => changing.Contains(n.Name)).ToList())
        {
            string attribute = AttributeToInput[node.OpType].Attribute;
            var values = node.Attributes[attribute].IntsValue ?? [];
            string name = $"{node.Name}/{attribute}";
            while (raised.Initializers.ContainsKey(name)) name += "_";
            raised.Initializers[name] = Tensor.FromInt64s(values, DataType.Int64, values.Length);
            var attributes = node.Attributes.Where(a => a.Key != attribute).ToDictionary(a => a.Key, a => a.Value);
            var inputs = node.Inputs.ToList();
            inputs.Insert(1, name);
            raised.Nodes[raised.Nodes.IndexOf(node)] = new Node(node.Name, node.OpType, inputs, node.Outputs, attributes);
        }
        return raised;
    }
}
