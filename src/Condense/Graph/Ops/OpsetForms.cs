// When a graph is written at a higher opset than the one its nodes were read at (int4 weights need opset 21, Condense's
// quantization ops 13, a composed graph the higher of its two parts' opsets), the nodes whose form changed in between are
// rewritten into the new form, so the file is valid at the opset it declares (https://onnx.ai/onnx/operators/, the ops'
// changelogs). The engine runs both forms, so only the file changes:
//   attributes to inputs   Slice starts/ends/axes and TopK k (10), Upsample scales (9), Clip min/max and Pad pads/value (11),
//                          ReduceSum, Squeeze, Unsqueeze axes and Split split (13), the other reductions' axes (18)
//   attribute removed      BatchNormalization spatial (9; only spatial = 1, the one meaning later opsets keep)
//   attribute added        Split num_outputs (18), when the split is equal
using Condense.Tensors;

namespace Condense.Graph.Ops;

internal static class OpsetForms
{
    // The opset at which each op's listed attributes became inputs 1, 2, … in this order.
    private static readonly Dictionary<string, (int Opset, string[] Attributes)> AttributesToInputs = new()
    {
        [OpTypes.Slice] = (10, ["starts", "ends", "axes"]), [OpTypes.TopK] = (10, ["k"]), [OpTypes.Upsample] = (9, ["scales"]),
        [OpTypes.Clip] = (11, ["min", "max"]), [OpTypes.Pad] = (11, ["pads", "value"]),
        [OpTypes.ReduceSum] = (13, ["axes"]), [OpTypes.Squeeze] = (13, ["axes"]), [OpTypes.Unsqueeze] = (13, ["axes"]), [OpTypes.Split] = (13, ["split"]),
        [OpTypes.ReduceMean] = (18, ["axes"]), [OpTypes.ReduceMax] = (18, ["axes"]), [OpTypes.ReduceMin] = (18, ["axes"]),
        [OpTypes.ReduceProd] = (18, ["axes"]), [OpTypes.ReduceSumSquare] = (18, ["axes"]), [OpTypes.ReduceL1] = (18, ["axes"]),
        [OpTypes.ReduceL2] = (18, ["axes"]), [OpTypes.ReduceLogSum] = (18, ["axes"]), [OpTypes.ReduceLogSumExp] = (18, ["axes"]),
    };

    private const int SpatialRemoved = 9;
    private const int SplitOutputCount = 18;

    /// <summary>
    /// <paramref name="graph"/> as it must be written at <paramref name="opset"/> when its nodes were read at <paramref name="own"/>:
    /// the graph itself when nothing changes, else a copy with the changed nodes rewritten.
    /// </summary>
    public static ModelGraph Raise(ModelGraph graph, int own, int opset)
    {
        if (!graph.Nodes.Any(n => Changes(n, own, opset))) return graph;
        var raised = graph.Clone();
        for (int i = 0; i < raised.Nodes.Count; i++)
            if (Changes(raised.Nodes[i], own, opset)) raised.Nodes[i] = Rewrite(raised, raised.Nodes[i], own, opset);
        return raised;
    }

    private static bool Changes(Node node, int own, int opset) =>
        Crosses(own, opset, SpatialRemoved) && node.OpType == OpTypes.BatchNormalization && node.Attributes.ContainsKey("spatial")
        || Crosses(own, opset, SplitOutputCount) && EqualSplit(node)
        || AttributesToInputs.TryGetValue(node.OpType, out var form) && Crosses(own, opset, form.Opset)
            && form.Attributes.Any(node.Attributes.ContainsKey);

    private static bool Crosses(int own, int opset, int changed) => own < changed && opset >= changed;

    // A Split with neither split sizes (attribute or input) nor num_outputs: opset 18 needs the number of parts.
    private static bool EqualSplit(Node node) => node.OpType == OpTypes.Split && !node.Attributes.ContainsKey("split")
        && !node.Attributes.ContainsKey("num_outputs") && (node.Inputs.Count < 2 || node.Inputs[1].Length == 0);

    private static Node Rewrite(ModelGraph graph, Node node, int own, int opset)
    {
        var attributes = new Dictionary<string, AttributeValue>(node.Attributes);
        var inputs = node.Inputs.ToList();
        if (node.OpType == OpTypes.BatchNormalization && attributes.Remove("spatial", out var spatial) && spatial.IntValue != 1)
            throw new CondenseException($"node '{node.Name}' (BatchNormalization): spatial = {spatial.IntValue} cannot be written at opset {opset}");
        if (AttributesToInputs.TryGetValue(node.OpType, out var form) && Crosses(own, opset, form.Opset))
        {
            // Each attribute becomes an initializer read as the next input; an absent one is an omitted input ("") unless trailing.
            var moved = form.Attributes.Select(a => attributes.Remove(a, out var value) ? Initializer(graph, node, a, value) : "").ToList();
            while (moved.Count > 0 && moved[^1].Length == 0) moved.RemoveAt(moved.Count - 1);
            inputs.InsertRange(1, moved);
        }
        if (Crosses(own, opset, SplitOutputCount) && node.OpType == OpTypes.Split && inputs.Count < 2 && !attributes.ContainsKey("num_outputs"))
            attributes["num_outputs"] = AttributeValue.Int(node.Outputs.Count);
        return new Node(node.Name, node.OpType, inputs, node.Outputs, attributes);
    }

    // Integer lists as int64 tensors (TopK's k as a one-element one), floats as float32 scalars (Clip, Pad) or tensors (scales).
    private static string Initializer(ModelGraph graph, Node node, string attribute, AttributeValue value)
    {
        string name = $"{node.Name}/{attribute}";
        while (graph.Initializers.ContainsKey(name)) name += "_";
        graph.Initializers[name] = value.Kind switch
        {
            AttributeKind.Ints => Tensor.FromInt64s(value.IntsValue!, DataType.Int64, value.IntsValue!.Length),
            AttributeKind.Int => Tensor.FromInt64s([value.IntValue], DataType.Int64, 1),
            AttributeKind.Float => Tensor.Scalar(value.FloatValue),
            AttributeKind.Floats => new Tensor(value.FloatsValue!, value.FloatsValue!.Length),
            _ => throw new CondenseException($"node '{node.Name}' ({node.OpType}): attribute '{attribute}' of kind {value.Kind} cannot become an input"),
        };
        return name;
    }
}
