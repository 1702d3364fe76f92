// Heads and feed-forward neurons removed unevenly across layers, by measured sensitivity: the width counterpart of
// SensitivityAllocation. Layers of one encoder do not matter alike (on all-MiniLM-L6-v2 the last layer's FFN is the most
// sensitive), so removing the same share everywhere cuts the layers that matter as hard as those that do not. Each layer
// is cut alone, chosen and refitted as CalibratedWidth does (one Hessian gathering for all layers, one greedy pass per
// layer to the largest share), at each share of SensitivityAllocation.Grid, and the model's loss measured; then the total
// (the share × all layers' units) is removed one unit at a time from the layer whose interpolated loss rises least.
using Condense.Distributed;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>Per-layer counts of heads or feed-forward neurons to remove, from measured sensitivity.</summary>
public static class WidthAllocation
{
    /// <summary>
    /// The loss of <paramref name="model"/> with the heads (or neurons) of one layer at a time removed and refitted by
    /// <see cref="CalibratedWidth"/> at each share of <see cref="SensitivityAllocation.Grid"/>; one curve per layer, named
    /// by its index, whose parameter count is its units. Under mpirun the cuts are handed out round-robin and summed.
    /// </summary>
    public static IReadOnlyList<SensitivityCurve> Measure(GraphModule model, IReadOnlyList<EncoderLayer> layers, bool heads,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration, Func<GraphModule, double> loss,
        IProgress<(int Done, int Total)>? progress = null, double dampening = SparseGpt.DefaultDampening)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (layers.Count == 0) throw new CondenseException("the model has no attention layers");
        return MeasureWith(model, layers, heads, CalibratedWidth.Hessians(model, layers, heads, calibration), loss, progress, dampening);
    }

    // The sweep with each reader's Hessian given (Remove gathers them once for the sweep and the final cut).
    private static IReadOnlyList<SensitivityCurve> MeasureWith(GraphModule model, IReadOnlyList<EncoderLayer> layers, bool heads,
        Func<int, Calibration.InputHessian> hessians, Func<GraphModule, double> loss, IProgress<(int Done, int Total)>? progress, double dampening)
    {
        var grid = SensitivityAllocation.Grid;
        int[] units = [.. layers.Select(l => CalibratedWidth.Units(model, l, heads))];
        var cache = new CalibratedWidth.WidthSweepCache(n => grid.Select(f => CalibratedWidth.Count(n, f)));
        var world = World.Current;
        var losses = new double[layers.Count * grid.Count];
        int done = 0, lastLayer = -1;
        progress?.Report((0, losses.Length));
        for (int slot = 0; slot < losses.Length; slot++)
        {
            if (!world.Owns(slot)) continue;
            int layer = slot / grid.Count;
            // Slots go layer by layer: the cuts of layers already measured are not needed again.
            if (layer != lastLayer)
            {
                cache.Cuts.Clear();
                lastLayer = layer;
            }
            var counts = new int[layers.Count];
            counts[layer] = CalibratedWidth.Count(units[layer], grid[slot % grid.Count]);
            using (World.Alone()) losses[slot] = loss(CalibratedWidth.RemoveCounts(model, layers, counts, heads, hessians, dampening, cache).Model);
            done += world.Size;
            progress?.Report((Math.Min(done, losses.Length), losses.Length));
        }
        world.AllReduce(losses);
        return [.. layers.Select((_, k) => new SensitivityCurve(k.ToString(System.Globalization.CultureInfo.InvariantCulture), units[k],
            losses.AsSpan(k * grid.Count, grid.Count).ToArray()))];
    }

    /// <summary>
    /// Units to remove per layer (in the curves' order), round(<paramref name="share"/> · all units) in total: one at a time,
    /// from the layer whose loss, interpolated linearly between the grid's points (0 at none removed), rises least; no layer
    /// loses more than the grid's last share or all but one unit.
    /// </summary>
    public static int[] Allocate(IReadOnlyList<SensitivityCurve> curves, double share)
    {
        if (!(share >= 0 && share < 1)) throw new CondenseException($"the share to remove must be in [0, 1), got {share}");
        var grid = SensitivityAllocation.Grid;
        int[] units = [.. curves.Select(c => checked((int)c.Parameters))];
        int[] caps = [.. units.Select(n => CalibratedWidth.Count(n, grid[^1]))];
        int goal = (int)Math.Round(share * units.Sum(), MidpointRounding.AwayFromZero);
        if (goal > caps.Sum())
            throw new CondenseException($"sensitivity allocation removes at most {grid[^1]:P0} of a layer's units: {share:P0} in all is out of its reach");
        var counts = new int[curves.Count];
        for (int step = 0; step < goal; step++)
        {
            int best = -1;
            double bestRise = double.PositiveInfinity;
            for (int k = 0; k < curves.Count; k++)
            {
                if (counts[k] >= caps[k]) continue;
                double rise = SensitivityAllocation.LossAt(curves[k], (counts[k] + 1.0) / units[k])
                    - SensitivityAllocation.LossAt(curves[k], (double)counts[k] / units[k]);
                if (rise < bestRise) (best, bestRise) = (k, rise);
            }
            counts[best]++;
        }
        return counts;
    }

    /// <summary>
    /// Removes the share <paramref name="share"/> of all layers' heads (or neurons) from <paramref name="model"/> (not
    /// changed), spread over the layers by <see cref="Measure"/> and <see cref="Allocate"/>, chosen and refitted on
    /// <paramref name="calibration"/>; returns the cut and the counts removed per layer.
    /// </summary>
    public static (AttentionPruningResult Result, int[] Counts) Remove(GraphModule model, IReadOnlyList<EncoderLayer> layers, double share, bool heads,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration, Func<GraphModule, double> loss,
        IProgress<(int Done, int Total)>? progress = null, double dampening = SparseGpt.DefaultDampening)
    {
        if (!(share >= 0 && share < 1)) throw new CondenseException($"the share to remove must be in [0, 1), got {share}");
        ArgumentNullException.ThrowIfNull(loss);
        if (layers.Count == 0) throw new CondenseException("the model has no attention layers");
        var hessians = CalibratedWidth.Hessians(model, layers, heads, calibration);
        var counts = Allocate(MeasureWith(model, layers, heads, hessians, loss, progress, dampening), share);
        return (CalibratedWidth.RemoveCounts(model, layers, counts, heads, hessians, dampening, null), counts);
    }
}
