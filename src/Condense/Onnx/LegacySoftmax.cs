// Softmax, LogSoftmax and Hardmax before opset 13 (ONNX docs/Changelog.md, Softmax-1/11): the input is coerced
// to 2-D at `axis` (default 1) — [d0·…·d(axis−1), d(axis)·…·d(n−1)] — and normalized over the whole second
// part, not over one axis. Opset 13 changed both the meaning and the default (−1). Such a node is imported as
// Shape + Flatten(axis) + the op over the last axis + Reshape back, which is the old meaning written in ops that
// mean the same at every opset, so the model also exports correctly. axis = −1 needs nothing: there both agree.
using Condense.Graph;

namespace Condense.Onnx;

/// <summary>Rewrites pre-opset-13 Softmax-family nodes into their opset-13 equivalent.</summary>
internal static class LegacySoftmax
{
    /// <summary>The first opset in which these ops normalize over one axis.</summary>
    public const int SingleAxisOpset = 13;

    /// <summary>The nodes that compute <paramref name="node"/> of an opset-<paramref name="opset"/> model.</summary>
    public static IEnumerable<Node> Expand(Node node, long opset)
    {
        if (opset >= SingleAxisOpset || node.OpType is not (OpTypes.Softmax or OpTypes.LogSoftmax or "Hardmax"))
            return [node];
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
}
