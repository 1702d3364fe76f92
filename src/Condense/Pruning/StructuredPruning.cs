// Structured pruning with physical removal (Li et al. 2017, "Pruning Filters for Efficient ConvNets"):
// rank the filters of a conv (or the neurons of a linear layer) by the L1 or L2 norm of their weights,
// remove the weakest — with their biases and batch-norm channels — and the matching input channels of
// every layer that reads them. The result is a smaller dense model, not a dense model full of zeros.
// Which tensors move together comes from ChannelGroups; layers joined by a residual Add share one
// channel set, scored by the sum of their filters' norms (Li et al. §4.1 prune such layers together).
using System.Text.Json.Serialization;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>One tensor's shape before and after structured pruning.</summary>
public sealed record TensorChange(string Name, int[] OldShape, int[] NewShape);

/// <summary>
/// One group of channels removed: the layers writing them (one, or several joined by residual Adds), how
/// many channels they had, which stayed (ascending original indices), and every tensor that was cut
/// (filters, biases, batch norm, the readers' input channels).
/// </summary>
public sealed record LayerChange(IReadOnlyList<string> Layers, int ChannelsBefore, [property: JsonPropertyOrder(1)] IReadOnlyList<int> Kept,
    [property: JsonIgnore] IReadOnlyList<TensorChange> Tensors)
{
    /// <summary>Channels (filters or neurons) left.</summary>
    public int ChannelsAfter => Kept.Count;

    /// <summary>Channels (filters or neurons) removed.</summary>
    [JsonIgnore]
    public int Removed => ChannelsBefore - ChannelsAfter;
}

/// <summary>The smaller model, what changed, and the layers left alone with the reason.</summary>
public sealed record StructuredResult(GraphModule Model, IReadOnlyList<LayerChange> Changes, IReadOnlyList<string> Skipped);

/// <summary>Removes whole filters of convolutions and whole neurons of linear layers.</summary>
public static class StructuredPruning
{
    /// <summary>
    /// Removes round(<paramref name="ratio"/> · n) channels of every qualifying group (at least one stays).
    /// <paramref name="pruneJoined"/> false leaves layers joined by a residual Add alone instead of pruning
    /// them together. <paramref name="channelMultiple"/> rounds each group's kept channels to the nearest multiple of it
    /// (see <see cref="FilterCutOptions.ChannelMultiple"/>). The input model is not changed; the result shares no tensors with it.
    /// </summary>
    public static StructuredResult Remove(GraphModule model, double ratio, NeuronNorm norm = NeuronNorm.L2,
        IReadOnlyList<string>? include = null, IReadOnlyList<string>? exclude = null, bool pruneJoined = true, int channelMultiple = 1)
    {
        if (!(ratio >= 0 && ratio < 1)) throw new CondenseException($"structured pruning ratio must be in [0, 1), got {ratio}");
        if (channelMultiple < 1) throw new CondenseException($"the channel multiple must be at least 1, got {channelMultiple}");
        var graph = model.Graph.Clone();
        // A filter cut slices the layer's own tensors: a bias or weight shared with another layer is copied first.
        SharedInitializers.Separate(graph, SharedInitializers.IsLayer);
        var shapes = graph.Initializers.ToDictionary(p => p.Key, p => p.Value.Shape);
        var chosen = Chosen(graph, include ?? [], exclude ?? []);
        var skipped = new List<string>();
        var plan = new List<(ChannelGroup Group, int[] Keep)>();
        foreach (var group in ChannelGroups.Find(graph))
        {
            if (group.Producers.Count == 0) continue;
            int kept = Kept(group.Channels, ratio, channelMultiple);
            if (WhyLeft(group, chosen, pruneJoined ? null : "pruning joined layers together is off", kept, ratio) is { } reason)
            {
                skipped.Add($"{group.Name}: {reason}");
                continue;
            }
            plan.Add((group, Strongest(graph, group, kept, norm)));
        }
        // Every group is ranked on the original weights before anything is cut: Li et al.'s "independent"
        // strategy (§3.2). The greedy one, which ignores inputs already removed, has no order to follow
        // once residual joins tie later layers to earlier ones.
        var cuts = plan.Select(p => Cut(graph, p.Group, p.Keep)).ToList();
        // A tensor may be cut by two groups (a conv's filters and its input channels): report its final shape.
        var changes = plan.Zip(cuts, (p, cut) => new LayerChange(p.Group.Producers.Select(q => q.Weight).ToList(), p.Group.Channels, p.Keep,
            cut.Select(name => new TensorChange(name, shapes[name], graph.Initializers[name].Shape)).ToList())).ToList();
        return new StructuredResult(new GraphModule(graph), changes, skipped);
    }

    // The weights the include/exclude patterns select.
    internal static HashSet<string> Chosen(ModelGraph graph, IReadOnlyList<string> include, IReadOnlyList<string> exclude) =>
        Prunable.Find(new GraphModule(graph), new PruneOptions { Include = include, Exclude = exclude }).Select(t => t.Name).ToHashSet();

    // Why a group keeping `kept` channels is left whole, or null. `joinedLeft` says why residual groups stay whole (null:
    // they are pruned).
    internal static string? WhyLeft(ChannelGroup group, HashSet<string> chosen, string? joinedLeft, int kept, double ratio) =>
        group.Blocked
        ?? (group.Producers.FirstOrDefault(p => !chosen.Contains(p.Weight)) is { } left ? $"{left.Weight} is not selected by include/exclude" : null)
        ?? (group.Joined && joinedLeft is not null ? $"its channels are joined by a residual Add ({joinedLeft})" : null)
        ?? (kept >= group.Channels ? $"nothing to remove at ratio {ratio}" : null);

    // round((1 − ratio) · channels), rounded to the nearest multiple when the layer has at least four multiples (a small
    // layer keeps its exact count: rounding 16 channels to a multiple of 16 would remove none or all), at least one channel.
    internal static int Kept(int channels, double ratio, int multiple)
    {
        int kept = Math.Max(1, channels - (int)Math.Round(ratio * channels, MidpointRounding.AwayFromZero));
        if (multiple > 1 && channels >= 4 * multiple)
            kept = Math.Clamp((int)Math.Round((double)kept / multiple, MidpointRounding.AwayFromZero) * multiple, multiple, channels);
        return kept;
    }

    // Indices (ascending) of the `count` channels with the largest summed filter norms.
    internal static int[] Strongest(ModelGraph graph, ChannelGroup group, int count, NeuronNorm norm)
    {
        var score = new double[group.Channels];
        foreach (var producer in group.Producers)
        {
            var w = graph.Initializers[producer.Weight];
            var sums = new double[group.Channels];
            var (outer, inner) = Around(w.Shape, producer.Axis);
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < group.Channels; c++)
                {
                    var filter = w.Data.AsSpan((o * group.Channels + c) * inner, inner);
                    foreach (float v in filter) sums[c] += norm == NeuronNorm.L1 ? Math.Abs(v) : (double)v * v;
                }
            for (int c = 0; c < sums.Length; c++) score[c] += norm == NeuronNorm.L1 ? sums[c] : Math.Sqrt(sums[c]);
        }
        return Enumerable.Range(0, group.Channels).OrderByDescending(c => score[c]).ThenBy(c => c).Take(count).Order().ToArray();
    }

    // Cuts every tensor axis the group indexes down to the channels in `keep`; returns the tensors cut.
    internal static List<string> Cut(ModelGraph graph, ChannelGroup group, int[] keep)
    {
        var names = new List<string>();
        foreach (var slice in group.Slices.Distinct())
        {
            var t = graph.Initializers[slice.Initializer];
            graph.Initializers[slice.Initializer] = slice.Before is null ? CutOwn(t, slice, group, keep) : CutSegment(graph, t, slice, group, keep);
            if (!names.Contains(slice.Initializer)) names.Add(slice.Initializer);
        }
        // A depthwise conv has one group per channel.
        foreach (var node in group.Depthwise) node.Attributes["group"] = AttributeValue.Int(keep.Length);
        return names;
    }

    // An axis that indexes the group's channels alone.
    private static Tensor CutOwn(Tensor t, ChannelSlice slice, ChannelGroup group, int[] keep)
    {
        if (t.Shape[slice.Axis] != group.Channels * slice.Block)
            throw new CondenseException($"{slice.Initializer} has {t.Shape[slice.Axis]} entries on axis {slice.Axis}, "
                + $"expected {group.Channels * slice.Block} for the channels of {group.Name}");
        return Select(t, slice.Axis, slice.Block, keep);
    }

    // A Concat's reader: the group's channels sit after the (current) channels of the segments before it; the others stay.
    private static Tensor CutSegment(ModelGraph graph, Tensor t, ChannelSlice slice, ChannelGroup group, int[] keep)
    {
        int offset = slice.FixedBefore + slice.Before!.Sum(p => graph.Initializers[p.Weight].Shape[p.Axis]), length = t.Shape[slice.Axis];
        int after = offset + group.Channels;
        if (after > length)
            throw new CondenseException($"{slice.Initializer} has {length} entries on axis {slice.Axis}, too few for the channels of "
                + $"{group.Name} after {offset} others");
        return Select(t, slice.Axis, 1, [.. Enumerable.Range(0, offset), .. keep.Select(k => offset + k), .. Enumerable.Range(after, length - after)]);
    }

    // Sizes before and after `axis`: a tensor is (outer, shape[axis], inner) in row-major order.
    private static (int Outer, int Inner) Around(int[] shape, int axis) => (Shape.Size(shape[..axis]), Shape.Size(shape[(axis + 1)..]));

    // The blocks of `block` consecutive entries along `axis` listed in `keep`.
    internal static Tensor Select(Tensor t, int axis, int block, int[] keep)
    {
        var (outer, inner) = Around(t.Shape, axis);
        int length = t.Shape[axis], run = block * inner;
        var data = new float[outer * keep.Length * run];
        int at = 0;
        for (int o = 0; o < outer; o++)
            foreach (int c in keep)
            {
                t.Data.AsSpan((o * length + c * block) * inner, run).CopyTo(data.AsSpan(at, run));
                at += run;
            }
        var shape = (int[])t.Shape.Clone();
        shape[axis] = keep.Length * block;
        return new Tensor(data, shape);
    }
}
