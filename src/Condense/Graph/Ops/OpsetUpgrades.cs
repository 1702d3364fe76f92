// How nodes of older opsets are read, for ops whose meaning changed (ONNX docs/Changelog.md). Most ops mean the
// same in opsets 1–6 as in opset 7: they only carried attributes that change nothing (consumed_inputs, a memory
// hint of opset 1, is removed from every node on import). What did change, each hook on its op's registry entry:
//   Add, Sub, Mul, Div, Pow   broadcast = 1 with axis aligns B at that axis (not numpy's suffix): run as such by
//                             GraphOps (without axis it is numpy's rule, so the flag is dropped)
//   Gemm                      broadcast: dropped, since C broadcasts either way
//   Dropout                   is_test: dropped, since the module's mode decides
//   BatchNormalization        is_test = 0 (the default) normalizes with the batch's statistics: refused; spatial = 0: refused
//   Reshape (< 5)             the shape is an attribute: moved into an initializer input
//   Cast (< 6)                'to' is a type name: turned into the type code
//   Concat (< 4)              the axis defaults to 1: written out
//   Pad (1)                   the attribute is called 'paddings': renamed to 'pads'
//   Softmax, LogSoftmax (< 13) the input is coerced to 2-D at `axis` (default 1) — [d0·…·d(axis−1), d(axis)·…·d(n−1)] —
//                             and normalized over the whole second part; imported as Shape + Flatten(axis) + the op
//                             over the last axis + Reshape back, ops that mean the same at every opset, so the model
//                             also exports correctly (axis = −1 needs nothing: there both agree)
using Condense.Tensors;

namespace Condense.Graph.Ops;

/// <summary>The opset adaptations of the ops whose meaning changed.</summary>
internal static class OpsetUpgrades
{
    /// <summary>The first opset whose op definitions the engine follows without adaptation (the Softmax family aside).</summary>
    public const int Current = 7;

    /// <summary>
    /// The newest opset whose op definitions the entries follow. Opsets 22–26 changed the ops Condense runs only by the types
    /// they take and by attributes whose defaults keep opset 21's meaning (QuantizeLinear's precision, DequantizeLinear's
    /// output_dtype, Cast's round_mode for float8e8m0): a node that sets one to anything else is refused. Opset 27 is past
    /// what ONNX Runtime 1.31 reads.
    /// </summary>
    public const int Latest = 26;

    // The last opset whose definitions the entries were written from; newer nodes pass CheckNewerAttributes.
    private const int Written = 21;

    /// <summary>The first opset in which the Softmax family normalizes over one axis.</summary>
    public const int SingleAxisOpset = 13;

    private static readonly Dictionary<string, long> CastTypes = new()
    {
        ["FLOAT"] = 1, ["UINT8"] = 2, ["INT8"] = 3, ["UINT16"] = 4, ["INT16"] = 5, ["INT32"] = 6, ["INT64"] = 7,
        ["BOOL"] = 9, ["FLOAT16"] = 10, ["DOUBLE"] = 11, ["UINT32"] = 12, ["UINT64"] = 13,
    };

    /// <summary>
    /// The nodes that compute <paramref name="node"/> of an opset-<paramref name="opset"/> model in the meaning the engine
    /// runs (its entry's <see cref="OpDef.Upgrade"/>), or a one-line error naming its op. Below opset 7, an op that arrived
    /// later than the model's opset is refused.
    /// </summary>
    public static IReadOnlyList<Node> Upgrade(ModelGraph graph, Node node, long opset)
    {
        var def = OpRegistry.Find(node.OpType);
        if (opset < Current)
        {
            if (def is not null && opset < def.Since) throw Refuse(node, opset, $"the op arrived in opset {def.Since}");
            node.Attributes.Remove("consumed_inputs");
        }
        if (opset > Written) CheckNewerAttributes(node, opset);
        return def?.Upgrade is { } upgrade ? upgrade(graph, node, opset) : [node];
    }

    // Attributes opsets 22–26 added to ops Condense runs: absent, or the value that means what opset 21 computes (float32).
    private static void CheckNewerAttributes(Node node, long opset)
    {
        string? attribute = node.OpType switch
        {
            OpTypes.QuantizeLinear => "precision",
            OpTypes.DequantizeLinear => "output_dtype",
            _ => null,
        };
        if (attribute is not null && node.Attributes.TryGetValue(attribute, out var value) && value.IntValue is not (0 or 1))
            throw Refuse(node, opset, $"{attribute} = {value.IntValue}: only float32 (1) is computed");
    }

    /// <summary>The error for a node of an old opset whose meaning the engine does not implement.</summary>
    public static CondenseException Refuse(Node node, long opset, string why) =>
        new($"node '{node.Name}': op '{node.OpType}' at opset {opset} is not supported ({why}); supported: opset {Current}–{Latest}, "
            + "and older opsets for ops whose meaning did not change");

    internal static IReadOnlyList<Node> AxisBroadcast(ModelGraph graph, Node node, long opset)
    {
        if (opset < Current && (node.Int("broadcast", 0) == 0 || !node.Attributes.ContainsKey("axis")))
        {
            node.Attributes.Remove("broadcast");
            node.Attributes.Remove("axis");
        }
        return [node];
    }

    internal static IReadOnlyList<Node> GemmBroadcast(ModelGraph graph, Node node, long opset)
    {
        if (opset < Current) node.Attributes.Remove("broadcast");
        return [node];
    }

    internal static IReadOnlyList<Node> DropoutIsTest(ModelGraph graph, Node node, long opset)
    {
        if (opset < Current) node.Attributes.Remove("is_test");
        return [node];
    }

    internal static IReadOnlyList<Node> BatchNormIsTest(ModelGraph graph, Node node, long opset)
    {
        if (opset >= Current) return [node];
        if (node.Int("is_test", 0) != 1) throw Refuse(node, opset, "without is_test = 1 it normalizes with the batch's own statistics");
        if (node.Int("spatial", 1) != 1) throw Refuse(node, opset, "spatial = 0 (statistics per activation) is not supported");
        node.Attributes.Remove("is_test");
        node.Attributes.Remove("spatial");
        return [node];
    }

    internal static IReadOnlyList<Node> ReshapeAttribute(ModelGraph graph, Node node, long opset)
    {
        if (opset >= 5) return [node];
        if (!node.Attributes.Remove("shape", out var shape) || shape.IntsValue is not { } dims || node.Inputs.Count != 1)
            throw Refuse(node, opset, "its shape must be an attribute");
        string name = node.Name + "/shape";
        for (int i = 1; graph.Initializers.ContainsKey(name); i++) name = $"{node.Name}/shape_{i}";
        graph.Initializers[name] = new Tensor(dims.Select(d => (float)d).ToArray(), dims.Length);
        node.Inputs.Add(name);
        return [node];
    }

    internal static IReadOnlyList<Node> CastTypeName(ModelGraph graph, Node node, long opset)
    {
        if (opset >= 6) return [node];
        if (!node.Attributes.TryGetValue("to", out var to) || to.StringValue is not { } typeName || !CastTypes.TryGetValue(typeName, out long code))
            throw Refuse(node, opset, "its 'to' must name a numeric type");
        node.Attributes["to"] = AttributeValue.Int(code);
        return [node];
    }

    internal static IReadOnlyList<Node> ConcatAxis(ModelGraph graph, Node node, long opset)
    {
        if (opset < 4) node.Attributes.TryAdd("axis", AttributeValue.Int(1));
        return [node];
    }

    internal static IReadOnlyList<Node> PadPaddings(ModelGraph graph, Node node, long opset)
    {
        if (opset < 2 && node.Attributes.Remove("paddings", out var paddings)) node.Attributes["pads"] = paddings;
        return [node];
    }

    internal static IReadOnlyList<Node> CoercedSoftmax(ModelGraph graph, Node node, long opset)
    {
        if (opset >= SingleAxisOpset) return [node];
        long axis = node.Int("axis", 1);
        if (axis == -1)
        {
            node.Attributes["axis"] = AttributeValue.Int(-1L);
            return [node];
        }
        string x = node.Inputs[0], y = node.Outputs[0], prefix = node.Name + "/coerced";
        var shape = new Node(prefix + "/Shape", OpTypes.Shape, [x], [prefix + "/shape"]);
        var flatten = new Node(prefix + "/Flatten", OpTypes.Flatten, [x], [prefix + "/2d"],
            new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(axis) });
        var op = new Node(node.Name, node.OpType, [prefix + "/2d"], [prefix + "/y2d"],
            new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(-1L) });
        var reshape = new Node(prefix + "/Reshape", OpTypes.Reshape, [prefix + "/y2d", prefix + "/shape"], [y]);
        return [shape, flatten, op, reshape];
    }

    /// <summary>
    /// Undoes <see cref="CoercedSoftmax"/> where the coerced axis is the input's last (PyTorch writes softmax over the last
    /// dimension as Softmax(axis = rank − 1) before opset 13): Shape + Flatten + op + Reshape become the op over axis −1, which
    /// means the same, and attention is again a Softmax whose probabilities a MatMul reads (EncoderLayers). <paramref name="ranks"/>
    /// are the values' ranks from a pass of the model. Returns the number of ops simplified.
    /// </summary>
    internal static int SimplifyCoercedSoftmax(ModelGraph graph, IReadOnlyDictionary<string, int> ranks)
    {
        int simplified = 0;
        foreach (var op in graph.Nodes.Where(n => n.OpType is OpTypes.Softmax or OpTypes.LogSoftmax or OpTypes.Hardmax).ToList())
        {
            if (op.Int("axis", 1) != -1 || graph.Producer(op.Inputs[0]) is not { OpType: OpTypes.Flatten } flatten) continue;
            string x = flatten.Inputs[0];
            if (!ranks.TryGetValue(x, out int rank) || flatten.Int("axis", 1) != rank - 1) continue;
            var readers = graph.Consumers(op.Outputs[0]).ToList();
            if (readers is not [{ OpType: OpTypes.Reshape } reshape] || graph.Producer(reshape.Inputs[1]) is not { OpType: OpTypes.Shape } shape
                || shape.Inputs[0] != x || graph.Consumers(flatten.Outputs[0]).Count() != 1 || graph.Consumers(shape.Outputs[0]).Count() != 1)
                continue;
            op.Inputs[0] = x;
            op.Outputs[0] = reshape.Outputs[0];
            graph.Nodes.Remove(flatten);
            graph.Nodes.Remove(shape);
            graph.Nodes.Remove(reshape);
            simplified++;
        }
        return simplified;
    }
}
