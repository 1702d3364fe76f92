// The channel groups of a graph, the map structured pruning works from. Every Conv, Gemm or MatMul with
// a weight initializer writes a value whose channels (axis 1) it owns; one forward walk follows those
// channels through ops that act per channel or keep a zero channel zero (ReLU, ReLU6, zero padding, pooling, batch
// norm, dropout, flatten) to the layers that read them, recording every tensor axis they index; a Concat on the channel
// axis makes each input's channels one segment of its output, sliced at their offset in every reader. A sigmoid of
// tracked channels is a gate: not zero where a channel is cut, so only its product with channels (SiLU, squeeze-and-
// excitation) may read it, and the product joins the two groups. Channels
// joined by an Add (residual connections, He et al. 2016) must stay aligned, so the layers feeding one
// Add form one group with one shared channel set. A group meeting anything else is blocked, with a reason.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>
/// An initializer axis indexed by a group's channels: channel c owns entries [c·Block, (c+1)·Block), after the entries of
/// <paramref name="Before"/> and <paramref name="FixedBefore"/>: when the axis reads a Concat, the channels of the segments
/// before this group's (one producer of each group: their current count, which shrinks as those groups are cut; and the
/// channels of segments no group writes); null for an axis of this group alone.
/// </summary>
internal sealed record ChannelSlice(string Initializer, int Axis, int Block, IReadOnlyList<ChannelProducer>? Before = null, int FixedBefore = 0);

/// <summary>A layer whose filters (neurons) write a group's channels, and the axis of its weight that indexes them.</summary>
internal sealed record ChannelProducer(Node Node, string Weight, int Axis);

/// <summary>Channels that must be removed together, and every tensor axis that indexes them.</summary>
internal sealed class ChannelGroup
{
    public int Channels { get; init; }
    public List<ChannelProducer> Producers { get; } = [];
    public List<ChannelSlice> Slices { get; } = [];
    /// <summary>Depthwise convs inside the group: their group attribute follows the channel count.</summary>
    public List<Node> Depthwise { get; } = [];
    /// <summary>Why the group cannot be pruned, or null.</summary>
    public string? Blocked { get; set; }
    /// <summary>True when the channels of several layers are joined by an Add.</summary>
    public bool Joined { get; set; }

    public string Name => string.Join(" + ", Producers.Select(p => p.Weight));
}

/// <summary>Finds the channel groups of a graph.</summary>
internal static partial class ChannelGroups
{
    /// <summary>The groups of <paramref name="graph"/>, in the order of their first layer.</summary>
    public static IReadOnlyList<ChannelGroup> Find(ModelGraph graph)
    {
        var shapes = ValueShapes(graph);
        var walk = new Walk(graph, shapes);
        foreach (var node in graph.Nodes) walk.Visit(node);
        foreach (var output in graph.Outputs)
        {
            if (walk.Channels.TryGetValue(output.Name, out var c)) walk.Block(c.Group, $"its channels reach the model output '{output.Name}'");
            foreach (var segment in walk.Segments.GetValueOrDefault(output.Name) ?? [])
                if (segment.Group >= 0) walk.Block(segment.Group, $"its channels reach the model output '{output.Name}'");
        }
        return walk.Roots();
    }

    // Every value's shape, from one forward pass of a zero sample in evaluation mode (so batch norm leaves its statistics alone).
    // Channels do not depend on the image size: a size the model leaves free is probed at GraphModule.FreeSizeProbe.
    private static Dictionary<string, int[]> ValueShapes(ModelGraph graph)
    {
        if (graph.Inputs.Count != 1) throw new CondenseException($"structured pruning needs a graph with one input, this one has {graph.Inputs.Count}");
        var probe = new GraphModule(graph);
        probe.Eval();
        int[] sample = [1, .. GraphModule.ProbeSampleShape(graph.Inputs[0].Shape)];
        try { return probe.Run(Tensor.Zeros(sample)).ToDictionary(v => v.Key, v => v.Value.Shape); }
        catch (CondenseException e) when (graph.Inputs[0].Shape.Skip(1).Any(d => d <= 0))
        {
            throw new CondenseException($"structured pruning probes the model's channels with a zero sample of shape {Shape.Format(sample)} "
                + $"(its input '{graph.Inputs[0].Name}' leaves sizes free), which it does not take: {e.Message}");
        }
    }

    private sealed partial class Walk(ModelGraph graph, Dictionary<string, int[]> shapes)
    {
        private readonly List<ChannelGroup> _groups = [];
        private readonly List<int> _parent = [];

        /// <summary>Values carrying a group's channels on axis 1, each channel spanning Block consecutive entries.</summary>
        public Dictionary<string, (int Group, int Block)> Channels { get; } = [];

        public void Visit(Node node)
        {
            if (GatedProduct(node) || GateFunction(node)) return;
            // A gate is not zero where a channel is cut: read by anything but a product with the channels, it keeps them whole.
            foreach (var gate in node.Inputs.Where(Gates.ContainsKey).Distinct())
                Block(Channels[gate].Group, $"its channels go through {Gates[gate].OpType} ({Gates[gate].Name}), which does not keep a removed "
                    + $"channel at zero, into {node.OpType} ({node.Name}), which is not a product with the channels");
            if (ChannelConcat(node)) return;
            var segmented = node.Inputs.Where(i => i.Length > 0 && Segments.ContainsKey(i)).Distinct().ToList();
            if (segmented.Count > 0 && VisitSegmented(node, segmented)) return;
            var tracked = node.Inputs.Where(i => i.Length > 0 && Channels.ContainsKey(i)).Distinct().ToList();
            if (TransposeChannels(node, tracked) || VisitChannelsLast(node, tracked)) return;
            switch (node.OpType)
            {
                case OpTypes.Add when ConstantOffset(node) && tracked.SequenceEqual([node.Inputs[0]]) && Channels[node.Inputs[0]].Block == 1:
                    Pass(node);
                    Gates[node.Outputs[0]] = node;
                    return;
                case OpTypes.Conv: Conv(node); return;
                case OpTypes.Gemm or OpTypes.MatMul: Linear(node); return;
                case OpTypes.Add: Add(node); return;
                case OpTypes.Sigmoid or OpTypes.HardSigmoid when tracked.SequenceEqual([node.Inputs[0]]) && Channels[node.Inputs[0]].Block == 1:
                    Pass(node);
                    Gates[node.Outputs[0]] = node;
                    return;
                case OpTypes.BatchNormalization when tracked.SequenceEqual([node.Inputs[0]]):
                    var (group, block) = Channels[node.Inputs[0]];
                    for (int i = 1; i < Math.Min(5, node.Inputs.Count); i++) Group(group).Slices.Add(new ChannelSlice(node.Inputs[i], 0, block));
                    Pass(node);
                    return;
                case var op when (ZeroPreserving.Contains(op) || KeepsZero(graph, node) || ScalesByConstant(node)) && tracked.SequenceEqual([node.Inputs[0]]):
                    Pass(node);
                    return;
                case var op when PerChannel.Contains(op) && tracked.SequenceEqual([node.Inputs[0]]) && Channels[node.Inputs[0]].Block == 1:
                    Pass(node);
                    return;
                case OpTypes.Flatten or OpTypes.Reshape when tracked.SequenceEqual([node.Inputs[0]]) && IsFlatten(node):
                    var (g, b) = Channels[node.Inputs[0]];
                    var shape = shapes[node.Inputs[0]];
                    Channels[node.Outputs[0]] = (g, b * Shape.Size(shape[2..]));
                    return;
            }
            foreach (var value in tracked)
                Block(Channels[value].Group,
                    $"its channels go through {node.OpType} ({node.Name}), which mixes channels or does not keep a removed channel at zero");
        }

        private void Pass(Node node)
        {
            Channels[node.Outputs[0]] = Channels[node.Inputs[0]];
            Carry(node);
        }

        /// <summary>Values that carry a group's channels but are not zero where a channel is cut (sigmoid gates), and their node.</summary>
        public Dictionary<string, Node> Gates { get; } = [];

        // x · g of two tracked values with the same channels (SiLU's x · σ(x), a squeeze-and-excitation block's x · σ(s)): a
        // channel is zero wherever x's is, so the two groups become one, as a residual Add joins them.
        private bool GatedProduct(Node node)
        {
            if (node.OpType != OpTypes.Mul || node.Inputs.Count != 2) return false;
            var (a, b) = (node.Inputs[0], node.Inputs[1]);
            if (!Channels.TryGetValue(a, out var first) || !Channels.TryGetValue(b, out var second) || first.Block != 1 || second.Block != 1
                || Gates.ContainsKey(a) && Gates.ContainsKey(b)) return false;
            if (!shapes.TryGetValue(a, out var sa) || !shapes.TryGetValue(b, out var sb) || !shapes.TryGetValue(node.Outputs[0], out var so)
                || sa.Length < 2 || sa.Length != so.Length || sb.Length != so.Length || sa[1] != so[1] || sb[1] != so[1]) return false;
            Channels[node.Outputs[0]] = (Union(first.Group, second.Group), 1);
            Carry(node);
            return true;
        }

        // (N, C, …) → (N, C·…): each channel becomes a run of consecutive features.
        private bool IsFlatten(Node node) =>
            shapes.TryGetValue(node.Inputs[0], out var input) && shapes.TryGetValue(node.Outputs[0], out var output)
            && input.Length >= 2 && output.Length == 2 && output[1] == Shape.Size(input[1..])
            && (node.OpType == OpTypes.Reshape || node.Int("axis", 1) == 1);

        private void Conv(Node node)
        {
            string x = node.Inputs[0], w = node.Inputs[1];
            string? bias = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? node.Inputs[2] : null;
            bool hasWeight = graph.Initializers.TryGetValue(w, out var weight) && (bias is null || graph.Initializers.ContainsKey(bias));
            long groups = node.Int("group", 1);
            foreach (var other in node.Inputs.Skip(1).Where(Channels.ContainsKey))
                Block(Channels[other].Group, $"its channels are read as weights by {node.Name}");
            if (Channels.TryGetValue(x, out var input))
            {
                if (!hasWeight) { Block(input.Group, $"{node.Name} reads it with a weight that is not an initializer"); return; }
                if (groups == 1)
                    Group(input.Group).Slices.Add(new ChannelSlice(w, 1, 1));
                else if (groups == weight!.Shape[0] && weight.Shape[1] == 1 && groups == Group(input.Group).Channels)
                {
                    // Depthwise (one filter per channel): channel c of the output is channel c of the input
                    // filtered, so the conv belongs to the input's group (MobileNet's chain stays aligned).
                    var group = Group(input.Group);
                    group.Slices.Add(new ChannelSlice(w, 0, 1));
                    if (bias is not null) group.Slices.Add(new ChannelSlice(bias, 0, 1));
                    group.Depthwise.Add(node);
                    Channels[node.Outputs[0]] = input;
                    return;
                }
                else Block(input.Group, $"the grouped conv {node.Name} (group={groups}) reads it");
            }
            if (!hasWeight) return;
            var produced = NewGroup(weight!.Shape[0]);
            var g = Group(produced);
            g.Producers.Add(new ChannelProducer(node, w, 0));
            g.Slices.Add(new ChannelSlice(w, 0, 1));
            if (bias is not null) g.Slices.Add(new ChannelSlice(bias, 0, 1));
            if (groups != 1) g.Blocked = $"it is a grouped conv (group={groups}) not fed by a pruned layer";
            Channels[node.Outputs[0]] = (produced, 1);
        }

        private void Linear(Node node)
        {
            string x = node.Inputs[0], w = node.Inputs[1];
            bool gemm = node.OpType == OpTypes.Gemm;
            bool hasWeight = graph.Initializers.TryGetValue(w, out var weight) && weight.Rank == 2 && (!gemm || node.Int("transA", 0) == 0);
            int outAxis = gemm && node.Int("transB", 0) != 0 ? 0 : 1;
            foreach (var other in node.Inputs.Skip(1).Where(Channels.ContainsKey))
                Block(Channels[other].Group, $"its channels are read as weights or bias by {node.Name}");
            if (Channels.TryGetValue(x, out var input))
            {
                // A 2-D input has its channels (or flattened channel runs) on axis 1; a channels-last one on its last axis.
                if (hasWeight && shapes.TryGetValue(x, out var s) && (s.Length == 2 || LastAxis.Contains(x) && !gemm && input.Block == 1))
                    Group(input.Group).Slices.Add(new ChannelSlice(w, 1 - outAxis, input.Block));
                else Block(input.Group, $"{node.Name} ({node.OpType}) reads it in a layout structured pruning does not follow");
            }
            if (!hasWeight) return;
            int outputs = weight!.Shape[outAxis];
            var produced = NewGroup(outputs);
            var g = Group(produced);
            g.Producers.Add(new ChannelProducer(node, w, outAxis));
            g.Slices.Add(new ChannelSlice(w, outAxis, 1));
            if (gemm && node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
            {
                if (!graph.Initializers.TryGetValue(node.Inputs[2], out var bias)) g.Blocked = "its bias is not an initializer";
                else if (bias.Size == outputs) g.Slices.Add(new ChannelSlice(node.Inputs[2], bias.Rank - 1, 1));
                // A bias broadcast over all neurons (size 1) is shared: nothing to remove.
            }
            Channels[node.Outputs[0]] = (produced, 1);
            if (shapes.TryGetValue(node.Outputs[0], out var written) && written.Length > 2) LastAxis.Add(node.Outputs[0]);
        }

        // Residual join: both operands' channels line up one to one, so their groups become one.
        private void Add(Node node)
        {
            var operands = node.Inputs.Select(i => Channels.TryGetValue(i, out var c) ? c : ((int Group, int Block)?)null).ToList();
            var known = operands.Where(c => c is not null).Select(c => c!.Value).ToList();
            if (known.Count == 0) return;
            bool sameShape = shapes.TryGetValue(node.Outputs[0], out var output)
                && node.Inputs.All(i => shapes.TryGetValue(i, out var s) && Shape.Equal(s, output));
            if (known.Count < operands.Count || !sameShape || known.Any(c => c.Block != known[0].Block))
            {
                string other = node.Inputs[operands.FindIndex(c => c is null) is var k and >= 0 ? k : 0];
                foreach (var c in known)
                    Block(c.Group, known.Count < operands.Count
                        ? $"{node.Name} adds it to '{other}', which no prunable layer writes"
                        : $"{node.Name} adds it to a tensor of another shape");
                return;
            }
            int root = known[0].Group;
            foreach (var c in known.Skip(1)) root = Union(root, c.Group);
            Group(root).Joined = true;
            Channels[node.Outputs[0]] = (root, known[0].Block);
            Carry(node);
        }

        public void Block(int group, string reason) => Group(group).Blocked ??= reason;

        private ChannelGroup Group(int id) => _groups[Find(id)];

        private int NewGroup(int channels)
        {
            _groups.Add(new ChannelGroup { Channels = channels });
            _parent.Add(_parent.Count);
            return _parent.Count - 1;
        }

        private int Find(int id)
        {
            while (_parent[id] != id) id = _parent[id] = _parent[_parent[id]];
            return id;
        }

        private int Union(int a, int b)
        {
            a = Find(a);
            b = Find(b);
            if (a == b) return a;
            if (b < a) (a, b) = (b, a);
            var (into, from) = (_groups[a], _groups[b]);
            into.Producers.AddRange(from.Producers);
            into.Slices.AddRange(from.Slices);
            into.Depthwise.AddRange(from.Depthwise);
            if (into.Channels != from.Channels) into.Blocked ??= $"it is added to {from.Name}, which has {from.Channels} channels, not {into.Channels}";
            into.Blocked ??= from.Blocked;
            _parent[b] = a;
            return a;
        }

        public IReadOnlyList<ChannelGroup> Roots() =>
            Enumerable.Range(0, _groups.Count).Where(i => Find(i) == i).Select(i => _groups[i]).ToList();
    }
}
