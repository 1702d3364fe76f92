// Filter pruning spread by measured sensitivity: the structured counterpart of SensitivityAllocation. One ratio for every
// block cuts the blocks that matter as hard as those that do not; here each prunable channel group is cut alone, chosen and
// refitted on the calibration data as CalibratedFilters does, at each ratio of SensitivityAllocation.Grid, and the loss of
// the whole model measured; then the budget (the ratio × what every cuttable group costs, producers' filters and readers'
// input slices together) is spent greedily on the group whose loss rises least per unit removed (AMC, He et al. 2018, as
// a knapsack without search). The cost is multiply-adds by default: filters are removed for speed, and by parameters the
// budget goes to the last stages of a CNN, whose filters are many and cheap to run (ResNet-18 at 30 %: both of stage 4's
// blocks halved, cosine 0.880 but 1.23× faster in ONNX Runtime).
using Condense.Distributed;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>What a filter allocation's budget counts.</summary>
public enum FilterBudget
{
    /// <summary>Multiply-adds per sample of the layers that write and read the channels.</summary>
    MultiplyAdds,
    /// <summary>Weights of the layers that write and read the channels.</summary>
    Parameters,
}

/// <summary>Per-group filter ratios from measured sensitivity.</summary>
public static class FilterAllocation
{
    /// <summary>
    /// Cuts every group of <paramref name="model"/> (not changed) alone at each ratio of <see cref="SensitivityAllocation.Grid"/>
    /// with <see cref="CalibratedFilters.Remove"/> and measures <paramref name="loss"/> of the result; one curve per group,
    /// named by the group (its producers' weights joined by " + "), whose parameter count is what a ratio of 1 would remove
    /// in <paramref name="budget"/>'s unit.
    /// Under mpirun the (group, ratio) cuts are handed out round-robin and summed, so every rank ends with the same curves.
    /// </summary>
    public static IReadOnlyList<SensitivityCurve> Measure(GraphModule model, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration,
        FilterCutOptions options, Func<GraphModule, double> loss, IProgress<(int Done, int Total)>? progress = null,
        FilterBudget budget = FilterBudget.MultiplyAdds)
    {
        ArgumentNullException.ThrowIfNull(loss);
        var folded = BatchNormFolding.Fold(model).Model;
        var groups = CalibratedFilters.Cuttable(folded.Graph, options);
        var grid = SensitivityAllocation.Grid;
        var world = World.Current;
        var losses = new double[groups.Count * grid.Count];
        // Every cut below is of one group of the uncut model: its reader's greedy removal runs once, to the largest ratio.
        var cache = new CalibratedFilters.FilterSweepCache(grid);
        int done = 0, lastGroup = -1;
        progress?.Report((0, losses.Length));
        for (int slot = 0; slot < losses.Length; slot++)
        {
            if (!world.Owns(slot)) continue;
            // Slots go group by group: the cuts of groups already measured are not needed again (ResNet-18's widest reader
            // keeps eight refitted weights of 19 MB each).
            if (slot / grid.Count != lastGroup)
            {
                cache.Cuts.Clear();
                lastGroup = slot / grid.Count;
            }
            var alone = options with { Ratios = new Dictionary<string, double> { [groups[slot / grid.Count].Name] = grid[slot % grid.Count] } };
            using (World.Alone()) losses[slot] = loss(CalibratedFilters.RemoveWith(folded, 0, calibration, alone, null, cache).Model);
            done += world.Size;
            progress?.Report((Math.Min(done, losses.Length), losses.Length));
        }
        world.AllReduce(losses);
        var positions = budget == FilterBudget.MultiplyAdds ? OutputPositions(folded, calibration) : null;
        return [.. groups.Select((g, i) =>
            new SensitivityCurve(g.Name, Cost(folded.Graph, g, positions), losses.AsSpan(i * grid.Count, grid.Count).ToArray()))];
    }

    /// <summary>
    /// Removes filters from <paramref name="model"/> (not changed) with per-group ratios allocated from measured curves so that
    /// the parameters removed come to <paramref name="ratio"/> of the cuttable groups' (up to each group's rounding to whole
    /// channels); returns the cut model, the curves and the ratios. The sweep's cuts are refitted on
    /// <paramref name="sweepCalibration"/> (default: <paramref name="calibration"/>), best kept apart from the data
    /// <paramref name="loss"/> measures on: a reader refitted on the very samples it is measured on looks better than it is
    /// (a Gemm reading 120 neurons refitted on 40 images reproduces them almost exactly), which draws the budget to it.
    /// </summary>
    public static (StructuredResult Result, IReadOnlyList<SensitivityCurve> Curves, IReadOnlyDictionary<string, double> Ratios) Remove(GraphModule model,
        double ratio, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration, FilterCutOptions options, Func<GraphModule, double> loss,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? sweepCalibration = null, IProgress<(int Done, int Total)>? sweep = null,
        IProgress<int>? cut = null)
    {
        if (!(ratio >= 0 && ratio < 1)) throw new CondenseException($"structured pruning ratio must be in [0, 1), got {ratio}");
        var curves = Measure(model, sweepCalibration ?? calibration, options, loss, sweep);
        var ratios = SensitivityAllocation.Allocate(curves, ratio);
        var result = CalibratedFilters.Remove(model, ratio, calibration, options with { Ratios = ratios }, cut);
        return (result, curves, ratios);
    }

    // What removing all of the group's channels would remove: the weights that index them (producers' filters and biases,
    // readers' inputs), or, given each node's output positions per sample, the multiply-adds of the layers holding them.
    private static long Cost(ModelGraph graph, ChannelGroup group, Dictionary<string, long>? positions)
    {
        var names = group.Slices.Select(s => s.Initializer).Concat(group.Producers.Select(p => p.Weight)).Distinct().ToList();
        if (positions is null) return names.Sum(name => (long)graph.Initializers[name].Size);
        // A layer's multiply-adds per sample are its weight's size times its output positions (a conv's output pixels).
        return names.Sum(name => graph.Nodes.Where(n => n.Inputs.Count > 1 && n.Inputs[1] == name && positions.ContainsKey(n.Outputs[0]))
            .Sum(n => graph.Initializers[name].Size * positions[n.Outputs[0]]));
    }

    // Output positions per sample (elements per sample over output channels) of every Conv, Gemm and MatMul by a weight,
    // from one run of the first calibration batch.
    private static Dictionary<string, long> OutputPositions(GraphModule model, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration)
    {
        var feed = calibration().FirstOrDefault() ?? throw new CondenseException("the calibration data is empty");
        model.Eval();
        // Only the shapes of the weight layers' outputs, taken as the pass computes them (it releases the rest).
        var shapes = new Dictionary<string, int[]>();
        var layerOutputs = model.Graph.Nodes.Where(n => n.Inputs.Count >= 2 && model.Graph.Initializers.ContainsKey(n.Inputs[1]))
            .Select(n => n.Outputs[0]).ToHashSet();
        using (Autograd.GradMode.NoGrad()) model.RunObserving(feed, layerOutputs, (name, value) => shapes[name] = value.Shape);
        var positions = new Dictionary<string, long>();
        foreach (var node in model.Graph.Nodes)
        {
            if (node.Inputs.Count < 2 || !model.Graph.Initializers.TryGetValue(node.Inputs[1], out var w)
                || !shapes.TryGetValue(node.Outputs[0], out var shape)) continue;
            int outputs = node.OpType switch
            {
                OpTypes.Conv => w.Shape[0],
                OpTypes.Gemm => node.Int("transB", 0) != 0 ? w.Shape[0] : w.Shape[^1],
                OpTypes.MatMul => w.Shape[^1],
                _ => 0,
            };
            long size = shape.Aggregate(1L, (a, b) => a * b);
            if (outputs > 0 && shape.Length > 0 && shape[0] > 0) positions[node.Outputs[0]] = size / shape[0] / outputs;
        }
        return positions;
    }
}
