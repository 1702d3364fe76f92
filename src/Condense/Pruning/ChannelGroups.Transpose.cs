// Channels moved between axis 1 and the last axis by a Transpose: TensorFlow models (Keras, through tf2onnx) compute in NHWC,
// so their exports transpose a convolution's NCHW output to channels-last before a global mean and the Dense layer, and
// PyTorch models that permute do the same. A transpose that keeps the batch first and takes the channel axis to the last
// place (or back to axis 1) moves each channel whole; a mean, sum or max over the other axes keeps a cut channel's zeros.
using Condense.Graph;

namespace Condense.Pruning;

internal static partial class ChannelGroups
{
    private sealed partial class Walk
    {
        // True when the node is a Transpose that moves tracked channels (one value, one entry per channel) to axis 1 or the last axis.
        private bool TransposeChannels(Node node, List<string> tracked)
        {
            if (node.OpType != OpTypes.Transpose || tracked.Count != 1 || tracked[0] != node.Inputs[0] || Channels[tracked[0]].Block != 1
                || !shapes.TryGetValue(node.Inputs[0], out var shape) || shape.Length < 3)
                return false;
            int rank = shape.Length;
            // No perm reverses the axes (ONNX's default).
            long[] perm = node.Attributes.TryGetValue("perm", out var p) && p.IntsValue is { } given ? given
                : [.. Enumerable.Range(0, rank).Reverse().Select(i => (long)i)];
            int from = LastAxis.Contains(node.Inputs[0]) ? rank - 1 : 1, to = Array.IndexOf(perm, (long)from);
            if (perm.Length != rank || perm[0] != 0 || to != 1 && to != rank - 1) return false;
            Channels[node.Outputs[0]] = Channels[node.Inputs[0]];
            if (to == rank - 1) LastAxis.Add(node.Outputs[0]);
            return true;
        }

        // A reduction of channels-last values over axes other than the batch and the channels: the channels stay last, or are
        // axis 1 of the [N, C] result.
        private bool ReducesAroundLastAxis(Node node, string input)
        {
            if (node.OpType is not (OpTypes.ReduceMean or OpTypes.ReduceMax or OpTypes.ReduceSum) || node.Inputs[0] != input
                || !shapes.TryGetValue(input, out var shape) || !shapes.TryGetValue(node.Outputs[0], out var output))
                return false;
            long[]? axes = AttributeOrInput(graph, node, "axes");
            int rank = shape.Length;
            if (axes is not { Length: > 0 } || axes.Select(axis => axis < 0 ? axis + rank : axis).Any(axis => axis <= 0 || axis >= rank - 1)) return false;
            Channels[node.Outputs[0]] = Channels[input];
            if (output.Length > 2) LastAxis.Add(node.Outputs[0]);
            return true;
        }
    }
}
