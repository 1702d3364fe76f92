// Non-uniform sparsity by measured sensitivity. One sparsity for every layer prunes the layers that matter as hard as those
// that do not. Here each chosen tensor is pruned alone, with the pass's own score, at each sparsity of a grid, and the loss of
// the whole model measured (by default 1 − the cosine of its outputs to the unpruned model's on a few calibration batches);
// then the budget is spent greedily in steps of 1/128 (SparseGPT's block rounds to that) on the tensor whose interpolated
// loss rises least per parameter pruned: the knapsack view of layer-wise sparsity (AMC, He et al. 2018; SPDY, Frantar &
// Alistarh 2022) without a search over combinations, since losses of tensors pruned alone add up well at moderate sparsity.
// Measured on all-MiniLM-L6-v2, SparseGPT at 50 %, 256 calibration passages, cosine to the original on fortunes.txt: uniform
// 0.9024, this 0.9275 (0.9108 → 0.9335 with 1,024); ResNet-18 at 50 % by magnitude: 0.8463 → 0.9636 (README). OWL's rule
// (Yin et al. 2023: lower sparsity for layers with more Wanda-score outliers) measured 0.892–0.900 there, below uniform,
// and is not offered.
using Condense.Graph;
using Condense.Inference;
using Condense.Reports;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>How a pruning pass spreads its sparsity over the chosen tensors.</summary>
public enum SparsityAllocation
{
    /// <summary>Every tensor at the same sparsity (or the per-tensor sparsities given).</summary>
    Uniform,
    /// <summary>Per-tensor sparsities chosen from each tensor's measured effect on the model's outputs (<see cref="SensitivityAllocation"/>).</summary>
    Sensitivity,
}

/// <summary>The loss of the model with one tensor pruned alone at each sparsity of <see cref="SensitivityAllocation.Grid"/>.</summary>
public sealed record SensitivityCurve(string Tensor, long Parameters, IReadOnlyList<double> Losses);

/// <summary>Per-tensor sparsities from measured sensitivity.</summary>
public static class SensitivityAllocation
{
    /// <summary>The sparsities each tensor is measured at (loss 0 at sparsity 0 is implied); the last is the most any tensor gets.</summary>
    public static IReadOnlyList<double> Grid { get; } = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

    /// <summary>Sparsities are multiples of 1/StepsPerUnit: SparseGPT prunes whole counts of each 128-column block.</summary>
    public const int StepsPerUnit = 128;

    // The most steps any tensor gets: the grid's last point, rounded down to a step.
    private static readonly int MaxSteps = (int)Math.Floor(Grid[^1] * StepsPerUnit + 1e-9);

    /// <summary>The largest sparsity any tensor, and so the whole model, can get: the grid's last point rounded down to a step.</summary>
    public static double MaxSparsity => (double)MaxSteps / StepsPerUnit;

    /// <summary>
    /// Per-tensor sparsities (multiples of 1/<see cref="StepsPerUnit"/>, at most the grid's last) whose parameter-weighted mean
    /// is at least <paramref name="target"/> and overshoots it by less than one step of the largest tensor: each step goes to
    /// the tensor whose loss, interpolated linearly between the grid's points, rises least per parameter pruned.
    /// </summary>
    public static Dictionary<string, double> Allocate(IReadOnlyList<SensitivityCurve> curves, double target)
    {
        if (!(target >= 0 && target <= 1)) throw new CondenseException($"sparsity must be in [0, 1], got {target}");
        foreach (var c in curves)
            if (c.Losses.Count != Grid.Count)
                throw new CondenseException($"the sensitivity of {c.Tensor} has {c.Losses.Count} points, the grid {Grid.Count}");
        double total = curves.Sum(c => (double)c.Parameters);
        if (target > MaxSparsity + 1e-12)
            throw new CondenseException($"sensitivity allocation gives no tensor more than {MaxSparsity:P1}: {target:P1} overall is out of its reach");
        var steps = new int[curves.Count];
        // The loss each tensor's next step adds per parameter; only the tensor that takes a step needs it again.
        var cost = curves.Select(c => NextStepCost(c, 0)).ToArray();
        double goal = target * total - 1e-6 * Math.Max(1, total), have = 0;
        while (have < goal)
        {
            int best = -1;
            for (int i = 0; i < curves.Count; i++)
                if (cost[i] < (best < 0 ? double.PositiveInfinity : cost[best])) best = i;
            if (best < 0) break;
            steps[best]++;
            have += (double)curves[best].Parameters / StepsPerUnit;
            cost[best] = NextStepCost(curves[best], steps[best]);
        }
        return curves.Select((c, i) => (c.Tensor, Sparsity: (double)steps[i] / StepsPerUnit)).ToDictionary(x => x.Tensor, x => x.Sparsity);
    }

    // The rise of the loss from step to step + 1 per parameter pruned by it; infinite when the tensor can take no more.
    private static double NextStepCost(SensitivityCurve curve, int step) =>
        step >= MaxSteps || curve.Parameters == 0 ? double.PositiveInfinity
            : (Loss(curve, step + 1) - Loss(curve, step)) * StepsPerUnit / curve.Parameters;

    // The loss at sparsity step/StepsPerUnit, linear between grid points (0 at sparsity 0).
    private static double Loss(SensitivityCurve curve, int step) => LossAt(curve, (double)step / StepsPerUnit);

    /// <summary>The curve's loss at sparsity <paramref name="s"/>, linear between grid points (0 at sparsity 0).</summary>
    internal static double LossAt(SensitivityCurve curve, double s)
    {
        double previousSparsity = 0, previousLoss = 0;
        for (int i = 0; i < Grid.Count; i++)
        {
            if (s <= Grid[i] + 1e-12)
                return previousLoss + (curve.Losses[i] - previousLoss) * (s - previousSparsity) / (Grid[i] - previousSparsity);
            (previousSparsity, previousLoss) = (Grid[i], curve.Losses[i]);
        }
        return previousLoss;
    }

    /// <summary>
    /// Measures each target's curve: <paramref name="pruneAlone"/> writes the target's weights pruned at a sparsity, the model's
    /// <paramref name="loss"/> is taken, and the target's weights are restored. Under mpirun the (tensor, sparsity) measurements
    /// are handed out round-robin and summed, so every rank ends with the single-process curves.
    /// </summary>
    internal static IReadOnlyList<SensitivityCurve> Measure(GraphModule model, IReadOnlyList<WeightTensor> targets,
        Action<WeightTensor, double> pruneAlone, Func<GraphModule, double> loss, IProgress<(int Done, int Total)>? progress)
    {
        var losses = AloneSweep.Run(targets, Grid.Count, (t, _, j) => pruneAlone(t, Grid[j]), () => loss(model), progress);
        return targets.Select((t, i) => new SensitivityCurve(t.Name, t.Parameter.Size, losses.AsSpan(i * Grid.Count, Grid.Count).ToArray())).ToList();
    }

    /// <summary>
    /// The default loss: 1 − the mean over <paramref name="probe"/>'s batches of the cosine between the model's floating-point
    /// outputs (all of them, flattened and joined) and <paramref name="model"/>'s as it is now.
    /// </summary>
    public static Func<GraphModule, double> OutputCosineLoss(GraphModule model, IEnumerable<IReadOnlyDictionary<string, Tensor>> probe)
    {
        var feeds = probe.ToList();
        if (feeds.Count == 0) throw new CondenseException("sensitivity allocation needs at least one calibration batch");
        var reference = feeds.Select(f => Outputs(model, f)).ToList();
        return m => 1 - feeds.Select((f, i) => Fidelity.Cosine(Outputs(m, f), reference[i])).Average();
    }

    private static float[] Outputs(GraphModule model, IReadOnlyDictionary<string, Tensor> feed) =>
        [.. ModelRunner.Run(model, feed).Outputs.Where(o => o.Value.DataType is DataType.Float32).SelectMany(o => o.Value.Data)];
}
