// The ops a removed channel passes through unchanged: its values stay zero (ReLU and its kin, ReLU6, zero padding) or stay its
// own (pooling, reductions over the spatial axes), so cutting it before the op equals cutting it after.
using Condense.Graph;

namespace Condense.Pruning;

internal static partial class ChannelGroups
{
    // y = f(x) per element with f(0) = 0: a removed (zero) channel stays zero.
    private static readonly HashSet<string> ZeroPreserving =
    [
        OpTypes.Relu, OpTypes.LeakyRelu, OpTypes.Tanh, OpTypes.Dropout, OpTypes.Identity, OpTypes.HardSwish, OpTypes.Mish, OpTypes.Elu, OpTypes.Selu,
        OpTypes.Gelu, OpTypes.Erf, OpTypes.Swish,
    ];
    // Element-by-element functions of one value (with scalar constants beside it): applied to a gate, the result is a gate.
    private static readonly HashSet<string> Elementwise =
    [
        .. ZeroPreserving, OpTypes.Clip, OpTypes.Relu, OpTypes.Sigmoid, OpTypes.HardSigmoid, OpTypes.Exp, OpTypes.Neg, OpTypes.Abs,
        OpTypes.Softplus, OpTypes.Mul, OpTypes.Div, OpTypes.Add, OpTypes.Sub,
    ];

    // Per-channel window ops: channel c of the output depends on channel c of the input only, and a zero channel stays zero.
    private static readonly HashSet<string> PerChannel = [OpTypes.MaxPool, OpTypes.AveragePool, OpTypes.GlobalAveragePool, OpTypes.GlobalMaxPool];

    // A list an op takes as an attribute in older opsets and as its second input, a constant, in newer ones (a reduction's
    // axes, Pad's pads); null when neither is there.
    private static long[]? AttributeOrInput(ModelGraph graph, Node node, string attribute) =>
        node.Attributes.TryGetValue(attribute, out var a) ? a.IntsValue
            : node.Inputs.Count > 1 && graph.Initializers.TryGetValue(node.Inputs[1], out var given) ? given.ToInt64Values() : null;

    // Clip with min ≤ 0 ≤ max (ReLU6) keeps a zero channel at zero; so does constant zero padding of the spatial axes only.
    private static bool KeepsZero(ModelGraph graph, Node node)
    {
        float Scalar(int input, string attribute, float fallback) =>
            node.Inputs.Count > input && node.Inputs[input].Length > 0
                ? graph.Initializers.TryGetValue(node.Inputs[input], out var t) && t.Size == 1 ? t.Data[0] : float.NaN
                : node.Float(attribute, fallback);
        if (node.OpType == OpTypes.Clip) return Scalar(1, "min", float.NegativeInfinity) <= 0 && Scalar(2, "max", float.PositiveInfinity) >= 0;
        if (node.OpType is OpTypes.ReduceMean or OpTypes.ReduceMax or OpTypes.ReduceSum or OpTypes.ReduceL2 or OpTypes.ReduceL1)
        {
            // Over spatial axes only (MNASNet's x.mean([2, 3])): each channel reduces its own values, zeros to zero.
            long[]? axes = AttributeOrInput(graph, node, "axes");
            return axes is { Length: > 0 } && axes.All(axis => axis >= 2 || axis < 0 && axis >= -2);
        }
        if (node.OpType != OpTypes.Pad || node.Attributes.TryGetValue("mode", out var mode) && mode.StringValue != "constant") return false;
        long[]? pads = AttributeOrInput(graph, node, "pads");
        int rank = pads is null ? 0 : pads.Length / 2;
        bool channelsUnpadded = pads is not null && rank >= 2 && pads[0] == 0 && pads[1] == 0 && pads[rank] == 0 && pads[rank + 1] == 0;
        bool axesAll = node.Inputs.Count < 4 || node.Inputs[3].Length == 0;
        return channelsUnpadded && axesAll && Scalar(2, "value", 0f) == 0f;
    }
}
