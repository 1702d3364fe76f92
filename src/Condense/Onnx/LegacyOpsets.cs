// ONNX opsets 1–6 on import. Most ops mean the same in these opsets as in opset 7: they only carried attributes
// that change nothing (consumed_inputs, a memory hint of opset 1; Gemm's broadcast flag, since C broadcasts
// either way; Dropout's is_test, since the module's mode decides). What did change (ONNX docs/Changelog.md):
//   Add, Sub, Mul, Div, Pow   broadcast = 1 with axis aligns B at that axis (not numpy's suffix): run as such by
//                             GraphOps (without axis it is numpy's rule, so the flag is dropped)
//   BatchNormalization        is_test = 0 (the default) normalizes with the batch's statistics: refused; spatial = 0: refused
//   Reshape (< 5)             the shape is an attribute: moved into an initializer input
//   Cast (< 6)                'to' is a type name: turned into the type code
//   Concat (< 4)              the axis defaults to 1: written out
//   Pad (1)                   the attribute is called 'paddings': renamed to 'pads'
// and ops that did not exist yet (QuantizeLinear, Erf, …) are refused, naming the op and the opset it arrived in.
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Tensors;

namespace Condense.Onnx;

/// <summary>Adapts nodes of opset 1–6 models to the meaning the engine implements.</summary>
internal static class LegacyOpsets
{
    /// <summary>The first opset whose op definitions the engine follows without adaptation.</summary>
    public const int Current = 7;

    private static readonly Dictionary<string, long> CastTypes = new()
    {
        ["FLOAT"] = 1, ["UINT8"] = 2, ["INT8"] = 3, ["UINT16"] = 4, ["INT16"] = 5, ["INT32"] = 6, ["INT64"] = 7,
        ["BOOL"] = 9, ["FLOAT16"] = 10, ["DOUBLE"] = 11, ["UINT32"] = 12, ["UINT64"] = 13,
    };

    /// <summary>Rewrites <paramref name="node"/> of an opset-<paramref name="opset"/> model in place, or throws a one-line error naming its op.</summary>
    public static void Adapt(ModelGraph graph, Node node, long opset)
    {
        if (opset >= Current) return;
        // Ops that arrived after opset 1 say so in their registry entry.
        if (OpRegistry.Find(node.OpType) is { } op && opset < op.Since)
            throw Refuse(node, opset, $"the op arrived in opset {op.Since}");
        node.Attributes.Remove("consumed_inputs");
        switch (node.OpType)
        {
            case OpTypes.Add or OpTypes.Sub or OpTypes.Mul or OpTypes.Div or OpTypes.Pow:
                if (node.Int("broadcast", 0) == 0 || !node.Attributes.ContainsKey("axis"))
                {
                    node.Attributes.Remove("broadcast");
                    node.Attributes.Remove("axis");
                }
                break;
            case OpTypes.Gemm:
                node.Attributes.Remove("broadcast");
                break;
            case OpTypes.Dropout:
                node.Attributes.Remove("is_test");
                break;
            case OpTypes.BatchNormalization:
                if (node.Int("is_test", 0) != 1) throw Refuse(node, opset, "without is_test = 1 it normalizes with the batch's own statistics");
                if (node.Int("spatial", 1) != 1) throw Refuse(node, opset, "spatial = 0 (statistics per activation) is not supported");
                node.Attributes.Remove("is_test");
                node.Attributes.Remove("spatial");
                break;
            case OpTypes.Reshape when opset < 5:
                if (!node.Attributes.Remove("shape", out var shape) || shape.IntsValue is not { } dims || node.Inputs.Count != 1)
                    throw Refuse(node, opset, "its shape must be an attribute");
                string name = node.Name + "/shape";
                for (int i = 1; graph.Initializers.ContainsKey(name); i++) name = $"{node.Name}/shape_{i}";
                graph.Initializers[name] = new Tensor(dims.Select(d => (float)d).ToArray(), dims.Length);
                node.Inputs.Add(name);
                break;
            case OpTypes.Cast when opset < 6:
                if (!node.Attributes.TryGetValue("to", out var to) || to.StringValue is not { } typeName || !CastTypes.TryGetValue(typeName, out long code))
                    throw Refuse(node, opset, "its 'to' must name a numeric type");
                node.Attributes["to"] = AttributeValue.Int(code);
                break;
            case OpTypes.Concat when opset < 4:
                node.Attributes.TryAdd("axis", AttributeValue.Int(1));
                break;
            case OpTypes.Pad when opset < 2:
                if (node.Attributes.Remove("paddings", out var paddings)) node.Attributes["pads"] = paddings;
                break;
        }
    }

    private static CondenseException Refuse(Node node, long opset, string why) =>
        new($"node '{node.Name}': op '{node.OpType}' at opset {opset} is not supported ({why}); supported: opset {Current}–{OnnxImporter.MaxOpset}, "
            + "and older opsets for ops whose meaning did not change");
}
