// Filters removed by what they do on calibration images, not by their weight norms, and the layer that reads them
// refitted to make up for them: channel pruning with least-squares reconstruction (He et al. 2017, "Channel Pruning for
// Accelerating Very Deep Neural Networks"; ThiNet, Luo et al. 2017), done as greedy structured OBS (StructuredObs, as
// CalibratedWidth does for attention heads). Removing channel c of a conv's output removes input channel c of the one
// layer that reads it: for a Conv reader, the kH·kW consecutive inputs of c in its im2col rows, so the reader's input
// patches over the calibration images give the Hessian H = 2/n Σ x xᵀ, channels go one at a time by least output error,
// and the reader's kept weights and bias move to the least-squares refit. Batch norm is folded first so that every
// reader has a bias to absorb the mean of what the removed channels wrote. Groups are cut in graph order, each on
// statistics of the model already cut before it, so every refit sees the inputs it will get (as GPTQ's sequential mode).
// Channels joined by a residual Add are read through the identity path too, which no weight can refit: they are left
// whole, or cut by weight norm when asked. A group read by more than one layer, or by one too wide for its Hessian, is
// also cut by norm. The refit reproduces
// the reader's own output on the cut model's inputs by default; it can instead fit the uncut model's output (RefitTarget:
// also undoes earlier cuts' errors, and for a reader added to a residual stream, the stream's change), which on
// ResNet-18 with 65 calibration crops overfits them (held-out cosine 0.67 against 0.76).
using Condense.Autograd;
using Condense.Calibration;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>What the layer reading removed channels is refitted to reproduce.</summary>
public enum RefitTarget
{
    /// <summary>Its own output on the cut model's inputs (the OBS update: the kept inputs make up for the removed ones).</summary>
    Own,
    /// <summary>The uncut model's output, from the cut model's inputs (also makes up for earlier cuts).</summary>
    Uncut,
    /// <summary>As Uncut; a reader added to a residual stream is fitted so that the sum matches the uncut model's.</summary>
    UncutSum,
}

/// <summary>How <see cref="CalibratedFilters"/> cuts.</summary>
public sealed record FilterCutOptions
{
    /// <summary>Also cut channels joined by a residual Add (by L2 weight norm, no refit); by default they are left whole.</summary>
    public bool PruneJoined { get; init; }

    /// <summary>
    /// Each group's kept channels rounded to the nearest multiple of this, in layers of at least four multiples (ONNX Runtime's
    /// blocked convolutions run channels in blocks of 8 or 16, and a count off the block can run slower than a larger one on
    /// it). 1: no rounding.
    /// </summary>
    public int ChannelMultiple { get; init; } = 1;

    /// <summary>What the reader of the removed channels is refitted to reproduce.</summary>
    public RefitTarget Target { get; init; } = RefitTarget.Own;

    /// <summary>λ = dampening · mean(diag H) on the Hessian's diagonal: regularises the refit where samples are few.</summary>
    public double Dampening { get; init; } = DefaultDampening;

    /// <summary>Only groups whose layers' weights match one of these patterns ('*', '?'); empty: all.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Groups with a layer whose weight matches one of these patterns are left whole.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>
    /// A reader with more inputs than this (C·kH·kW for a conv) is not refitted and its group is cut by L2 weight norm: the
    /// Hessian takes inputs² doubles (8,192 inputs: 512 MB), and its inverse as much again.
    /// </summary>
    public int MaxReaderInputs { get; init; } = 8192;

    /// <summary>
    /// Per-group ratios by group name (the producers' weight names joined by " + ", as <see cref="FilterAllocation"/> gives
    /// them); a group not named here takes the ratio passed to <see cref="CalibratedFilters.Remove"/>.
    /// </summary>
    public IReadOnlyDictionary<string, double>? Ratios { get; init; }

    /// <summary>0.1 by default: on ResNet-18 with 65 calibration crops it kept more on held-out photos than 0.01 (cosine 0.764 against 0.760).</summary>
    public const double DefaultDampening = 0.1;
}

/// <summary>Removes filters (and neurons) chosen on calibration data, refitting the layer that reads them.</summary>
public static partial class CalibratedFilters
{
    /// <summary>
    /// Removes round(<paramref name="ratio"/> · n) channels of every prunable channel group of <paramref name="model"/> (not
    /// changed), chosen and made up for on the <paramref name="calibration"/> feeds. The result has batch norm folded.
    /// <paramref name="progress"/> hears the share of groups done, in percent.
    /// </summary>
    public static StructuredResult Remove(GraphModule model, double ratio, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration,
        FilterCutOptions? options = null, IProgress<int>? progress = null)
        => RemoveWith(model, ratio, calibration, options, progress, sweep: null);

    // sweep, when given, keeps what later calls on the same model can reuse (FilterAllocation's sweep cuts one group at a
    // time, so every reader sees the uncut model's inputs): only the own-output refit, which needs nothing else, uses it.
    internal static StructuredResult RemoveWith(GraphModule model, double ratio, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration,
        FilterCutOptions? options, IProgress<int>? progress, FilterSweepCache? sweep)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        options ??= new FilterCutOptions();
        if (!(ratio >= 0 && ratio < 1)) throw new CondenseException($"structured pruning ratio must be in [0, 1), got {ratio}");
        if (options.ChannelMultiple < 1) throw new CondenseException($"the channel multiple must be at least 1, got {options.ChannelMultiple}");
        if (options.Ratios?.FirstOrDefault(r => !(r.Value >= 0 && r.Value < 1)) is { Key: not null } bad)
            throw new CondenseException($"structured pruning ratio of {bad.Key} must be in [0, 1), got {bad.Value}");
        if (options.MaxReaderInputs < 1) throw new CondenseException($"the widest reader refitted must have at least 1 input, got {options.MaxReaderInputs}");
        var graph = BatchNormFolding.Fold(model).Model.Graph;
        var original = options.Target == RefitTarget.Own ? null : new GraphModule(graph.Clone());
        var chosen = StructuredPruning.Chosen(graph, options.Include, options.Exclude);
        var changes = new List<LayerChange>();
        var skipped = new List<string>();
        // The filters each layer kept, once its own group was cut: a later refit's targets are the uncut model's outputs of those.
        var keptOutputs = new Dictionary<string, int[]>();
        var groups = ChannelGroups.Find(graph).Where(g => g.Producers.Count > 0).ToList();
        // A refit gives a reader without a bias one (DenseNet's convs feeding a Concat have none); made before the groups are
        // found, so that cutting the reader's own filters later slices that bias too.
        if (groups.Select(RefittedReader).OfType<ChannelReader>().Count(reader => reader.AddBias(graph)) > 0)
            groups = ChannelGroups.Find(graph).Where(g => g.Producers.Count > 0).ToList();
        var shapes = graph.Initializers.ToDictionary(p => p.Key, p => p.Value.Shape);
        for (int k = 0; k < groups.Count; k++)
        {
            var group = groups[k];
            var (groupRatio, kept) = Target(group);
            if (WhyLeft(group, chosen, options, kept, groupRatio) is { } reason)
            {
                skipped.Add($"{group.Name}: {reason}");
                continue;
            }
            var reader = RefittedReader(group);
            var refit = reader is null ? null
                : Refit(graph, original, options.Target == RefitTarget.UncutSum, reader, group.Channels, group.Channels - kept, calibration,
                    options.Dampening, keptOutputs.GetValueOrDefault(reader.Node.Inputs[1]), original is null ? sweep : null, options.ChannelMultiple);
            var keep = refit?.Keep ?? StructuredPruning.Strongest(graph, group, kept, NeuronNorm.L2);
            var cut = StructuredPruning.Cut(graph, group, keep);
            foreach (var producer in group.Producers) keptOutputs[producer.Weight] = keep;
            if (refit is not null) reader!.WriteKept(graph, refit);
            changes.Add(new LayerChange(group.Producers.Select(p => p.Weight).ToList(), group.Channels, keep,
                cut.Select(name => new TensorChange(name, shapes[name], graph.Initializers[name].Shape)).ToList()));
            progress?.Report((k + 1) * 100 / groups.Count);
        }
        return new StructuredResult(new GraphModule(graph), changes, skipped);

        (double Ratio, int Kept) Target(ChannelGroup group)
        {
            double groupRatio = options.Ratios is { } ratios && ratios.TryGetValue(group.Name, out double r) ? r : ratio;
            return (groupRatio, StructuredPruning.Kept(group.Channels, groupRatio, options.ChannelMultiple));
        }

        // The layer refitted for the group's cut, or null when the group is left whole or cut by norm: a reader too wide for
        // its Hessian (VGG's first classifier layer reads 25,088 inputs: 5 GB of doubles) is cut by norm.
        ChannelReader? RefittedReader(ChannelGroup group)
        {
            var (groupRatio, kept) = Target(group);
            if (group.Joined || WhyLeft(group, chosen, options, kept, groupRatio) is not null) return null;
            var reader = Reader(graph, group);
            return reader is not null && reader.Width(graph).In <= options.MaxReaderInputs ? reader : null;
        }
    }

    /// <summary>The groups of <paramref name="folded"/> (batch norm folded) that a positive ratio would cut, in graph order.</summary>
    internal static IReadOnlyList<ChannelGroup> Cuttable(ModelGraph folded, FilterCutOptions options)
    {
        var chosen = StructuredPruning.Chosen(folded, options.Include, options.Exclude);
        return [.. ChannelGroups.Find(folded).Where(g => g.Producers.Count > 0 && WhyLeft(g, chosen, options, 0, 1) is null)];
    }

    private static string? WhyLeft(ChannelGroup group, HashSet<string> chosen, FilterCutOptions options, int kept, double ratio) =>
        StructuredPruning.WhyLeft(group, chosen, options.PruneJoined ? null : "left whole: no weight refits the identity path", kept, ratio);

    // The one Conv (one group) or Linear layer that reads the group's channels as inputs, or null if there is not exactly one.
    private static ChannelReader? Reader(ModelGraph graph, ChannelGroup group)
    {
        var producers = group.Producers.Select(p => p.Node).Concat(group.Depthwise).ToHashSet();
        var readers = group.Slices.Distinct()
            .Select(s => (Slice: s, Node: graph.Nodes.FirstOrDefault(n => n.Inputs.Count > 1 && n.Inputs[1] == s.Initializer && !producers.Contains(n))))
            .Where(r => r.Node is not null).ToList();
        // A reader of concatenated channels reads other groups' channels too: the group is cut by norm.
        if (readers.Count != 1 || readers[0].Slice.Before is not null) return null;
        var (slice, node) = (readers[0].Slice, readers[0].Node!);
        var weight = graph.Initializers[slice.Initializer];
        return node.OpType switch
        {
            OpTypes.Conv when node.Int("group", 1) == 1 && weight.Rank == 4 && slice.Axis == 1 && slice.Block == 1 =>
                new ChannelReader(node, weight.Shape[2] * weight.Shape[3], OutFirst: true),
            OpTypes.Gemm or OpTypes.MatMul when weight.Rank == 2 =>
                new ChannelReader(node, slice.Block, OutFirst: node.OpType == OpTypes.Gemm && node.Int("transB", 0) != 0),
            _ => null,
        };
    }

    // The channels to keep (ascending), chosen on the reader's calibration inputs, and the reader's refitted weights: the OBS
    // update's (the reader's own output on the cut model's inputs), or, given the uncut model, the least-squares fit of the
    // uncut model's output from the cut model's inputs, which also makes up for what earlier cuts changed.
    private static Refitted Refit(ModelGraph graph, GraphModule? original, bool sum, ChannelReader reader, int channels, int remove,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration, double dampening, int[]? keptOutputs, FilterSweepCache? sweep,
        int multiple)
    {
        var weightShape = graph.Initializers[reader.Node.Inputs[1]].Shape;
        bool conv = reader.Node.OpType == OpTypes.Conv;
        var (weight, inputs, outputs) = reader.InOut(graph);
        if (inputs != channels * reader.GroupSize)
            throw new CondenseException($"{reader.Node.Name} reads {inputs} inputs, not {channels} channels of {reader.GroupSize}");
        var bias = reader.Bias(graph, outputs);
        if (bias is null) original = null;
        var shortcut = original is null || !sum ? null : Shortcut(graph, reader.Node);
        // The cross moments are gathered only with a reference (then there is no sweep cache).
        var cross = original is null ? null : new CrossMoments(inputs, outputs);
        int[] removed;
        string key = reader.Node.Inputs[1];
        double[] h = [], mean = []; // gathered below when there is no cached cut (always with a reference)
        if (sweep is null)
        {
            (h, mean) = Statistics();
            removed = StructuredObs.Remove(weight, bias, inputs, outputs, h, mean, reader.GroupSize, remove, dampening);
        }
        else
        {
            if (!sweep.Cuts.ContainsKey((key, remove)))
            {
                // Every count the sweep will ask of this reader, in one greedy pass.
                int[] counts = [.. sweep.Ratios.Select(r => channels - StructuredPruning.Kept(channels, r, multiple)).Append(remove)
                    .Where(c => c > 0 && c < channels).Distinct()];
                (h, mean) = Statistics();
                var cuts = StructuredObs.RemoveEach(weight, bias, inputs, outputs, h, mean, reader.GroupSize, counts, dampening);
                for (int k = 0; k < counts.Length; k++) sweep.Cuts[(key, counts[k])] = cuts[k];
            }
            (removed, weight, bias) = sweep.Cuts[(key, remove)];
        }
        var keep = Enumerable.Range(0, channels).Where(c => Array.BinarySearch(removed, c) < 0).ToArray();
        if (original is not null)
        {
            var keptInputs = keep.SelectMany(c => Enumerable.Range(c * reader.GroupSize, reader.GroupSize)).ToArray();
            (weight, bias) = StructuredObs.Refit(h, mean, inputs, keptInputs, cross!.Cross(), cross.TargetMean(), outputs, dampening);
        }
        return new Refitted(keep, weight, bias);

        // The reader's input Hessian and mean over the calibration data; the cross moments too when there is a reference.
        (double[] Hessian, double[] Mean) Statistics()
        {
            var hessian = new InputHessian(inputs);
            var current = new GraphModule(graph);
            current.Eval();
            original?.Eval();
            using (GradMode.NoGrad())
                foreach (var feed in calibration())
                {
                    var values = current.Run(feed);
                    var x = values[reader.Node.Inputs[0]];
                    var rows = conv ? ConvPatches.All(reader.Node, weightShape, x) : x;
                    hessian.Add(rows);
                    if (original is null || cross is null) continue;
                    var reference = original.Run(feed);
                    var targets = OutputRows(reference[reader.Node.Outputs[0]], keptOutputs);
                    // Added to a residual stream that earlier cuts changed: the target also makes up the stream's difference.
                    if (shortcut is not null && Shape.Equal(values[shortcut].Shape, values[reader.Node.Outputs[0]].Shape))
                        targets = TypedOps.Add(targets, TypedOps.Sub(OutputRows(reference[shortcut], keptOutputs), OutputRows(values[shortcut], null)));
                    cross.Add(rows, targets);
                }
            if (hessian.Samples == 0) throw new CondenseException("the calibration data is empty");
            return (hessian.ToMatrix(), hessian.Mean());
        }
    }

    /// <summary>The greedy cuts of each reader of an uncut model at every count a sweep over <see cref="Ratios"/> asks for.</summary>
    internal sealed class FilterSweepCache(IReadOnlyList<double> ratios)
    {
        public IReadOnlyList<double> Ratios { get; } = ratios;
        public Dictionary<(string Reader, int Remove), (int[] Removed, double[] Weight, double[]? Bias)> Cuts { get; } = [];
    }

    // A reader's refit: the channels it keeps (ascending) and its weights as [in, out] over all original inputs, and bias.
    private sealed record Refitted(int[] Keep, double[] Weight, double[]? Bias);

    // The other operand of the residual Add that alone reads the layer's output (same shape both sides), or null.
    private static string? Shortcut(ModelGraph graph, Node layer)
    {
        string output = layer.Outputs[0];
        var readers = graph.Consumers(output).ToList();
        if (readers.Count != 1 || readers[0].OpType != OpTypes.Add || readers[0].Inputs.Count != 2 || graph.Outputs.Any(o => o.Name == output))
            return null;
        string other = readers[0].Inputs[0] == output ? readers[0].Inputs[1] : readers[0].Inputs[0];
        return other == output || graph.Initializers.ContainsKey(other) ? null : other;
    }

    // A layer's output channels `kept` (all if null) as rows: (N, O, H, W) → [N·H·W, O'] for a conv, [N, O'] for a linear layer.
    private static Tensor OutputRows(Tensor y, int[]? kept)
    {
        int batch = y.Shape[0], outputs = y.Shape[1], positions = y.Size / (batch * outputs);
        kept ??= [.. Enumerable.Range(0, outputs)];
        var rows = new float[batch * positions * kept.Length];
        for (int n = 0; n < batch; n++)
            for (int k = 0; k < kept.Length; k++)
                for (int p = 0; p < positions; p++) rows[(n * positions + p) * kept.Length + k] = y.Data[(n * outputs + kept[k]) * positions + p];
        return new Tensor(rows, batch * positions, kept.Length);
    }
}
