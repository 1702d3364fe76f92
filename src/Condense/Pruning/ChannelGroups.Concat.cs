// Channels joined by a Concat on the channel axis (SqueezeNet's fire modules, DenseNet's dense blocks, Inception's
// branches): the output's channels are its inputs' one after another, each a segment. Ops that keep channels apart pass
// the segments on; a batch norm, a plain conv or a Linear head (after pooling to one value per channel) that reads them
// gets one slice per segment, at the offset of that segment, which each slice works out when it is cut from the current
// sizes of the segments before it. Anything else that reads concatenated channels blocks their groups.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>One part of a Concat's channels: a group's (Fixed 0), or Fixed channels no group writes (Group −1).</summary>
internal readonly record struct Segment(int Group, int Fixed);

internal static partial class ChannelGroups
{
    private sealed partial class Walk
    {
        /// <summary>
        /// Values that concatenate several groups' channels on axis 1 (SqueezeNet's fire modules, DenseNet, Inception), each
        /// group's channels one segment, in order.
        /// </summary>
        public Dictionary<string, List<Segment>> Segments { get; } = [];

        // A Concat on axis 1 of values whose channels are tracked one entry each: its output is their segments in order.
        private bool ChannelConcat(Node node)
        {
            if (node.OpType != OpTypes.Concat || !shapes.TryGetValue(node.Outputs[0], out var output) || output.Length < 3) return false;
            long axis = node.Int("axis", 1);
            if (axis != 1 && axis != 1 - output.Length) return false;
            var inputs = node.Inputs.Where(i => i.Length > 0).ToList();
            bool Tracked(string i) => Segments.ContainsKey(i) || Channels.ContainsKey(i);
            // Inputs no group writes are segments of fixed width; tracked ones must index a channel per entry.
            if (!inputs.Any(Tracked) || inputs.Any(i => Channels.TryGetValue(i, out var c) && c.Block != 1)
                || inputs.Any(i => !Tracked(i) && !(shapes.TryGetValue(i, out var s) && s.Length == output.Length))) return false;
            Segments[node.Outputs[0]] = [.. inputs.SelectMany(i => Segments.TryGetValue(i, out var list) ? list
                : Channels.TryGetValue(i, out var c) ? [new Segment(c.Group, 0)] : [new Segment(-1, shapes[i][1])])];
            return true;
        }

        // A node reading concatenated channels: ops that keep channels apart pass the segments on, batch norm and a plain conv
        // slice each segment at its offset, anything else blocks them. False: the node's other inputs still need a visit.
        private bool VisitSegmented(Node node, List<string> segmented)
        {
            bool alone = segmented.Count == 1 && node.Inputs[0] == segmented[0]
                && !node.Inputs.Skip(1).Any(i => Segments.ContainsKey(i) || Channels.ContainsKey(i));
            var segments = Segments[segmented[0]];
            switch (node.OpType)
            {
                case var op when alone && (ZeroPreserving.Contains(op) || PerChannel.Contains(op) || KeepsZero(graph, node)):
                    Segments[node.Outputs[0]] = segments;
                    return true;
                case OpTypes.BatchNormalization when alone && node.Inputs.Skip(1).Take(4).All(graph.Initializers.ContainsKey):
                    for (int i = 1; i < Math.Min(5, node.Inputs.Count); i++) SliceSegments(segments, node.Inputs[i], 0);
                    Segments[node.Outputs[0]] = segments;
                    return true;
                case OpTypes.Conv when alone && node.Int("group", 1) == 1 && graph.Initializers.ContainsKey(node.Inputs[1]):
                    SliceSegments(segments, node.Inputs[1], 1);
                    Conv(node);
                    return true;
                // Pooled to one value per channel ([N, C, 1, 1]), flattened and read by a Linear head (GoogLeNet, DenseNet).
                case OpTypes.Flatten or OpTypes.Reshape when alone && IsFlatten(node) && Shape.Size(shapes[node.Inputs[0]][2..]) == 1:
                    Segments[node.Outputs[0]] = segments;
                    return true;
                case OpTypes.Gemm or OpTypes.MatMul when alone && shapes[node.Inputs[0]].Length == 2
                    && graph.Initializers.TryGetValue(node.Inputs[1], out var weight) && weight.Rank == 2
                    && (node.OpType == OpTypes.MatMul || node.Int("transA", 0) == 0):
                    SliceSegments(segments, node.Inputs[1], node.OpType == OpTypes.Gemm && node.Int("transB", 0) != 0 ? 1 : 0);
                    Linear(node);
                    return true;
            }
            foreach (var value in segmented)
                foreach (var segment in Segments[value].Where(g => g.Group >= 0))
                    Block(segment.Group,
                        $"its channels are concatenated and then go through {node.OpType} ({node.Name}), which Condense cannot cut per segment");
            return false;
        }

        // Axis `axis` of `initializer` indexes the segments' channels one after another: each group's slice comes after the others'.
        private void SliceSegments(List<Segment> segments, string initializer, int axis)
        {
            for (int k = 0; k < segments.Count; k++)
            {
                if (segments[k].Group < 0) continue;
                var before = segments.Take(k).Where(g => g.Group >= 0).Select(g => Group(g.Group).Producers[0]).ToList();
                Group(segments[k].Group).Slices.Add(new ChannelSlice(initializer, axis, 1, before, segments.Take(k).Sum(g => g.Fixed)));
            }
        }
    }
}
