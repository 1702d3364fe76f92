// Sensitivity analysis (Han et al. 2015, §4): prune each tensor alone at rising sparsity, measure
// accuracy, restore it. Layers that lose little can be pruned harder; AllocateBudget turns the sweep
// into per-tensor sparsities that meet a global budget with the smallest worst-case accuracy drop.
// A report carries its model's fingerprint: a budget spread by another model's sweep is refused.
using Condense.Data;
using Condense.Graph;
using Condense.Training;

namespace Condense.Pruning;

/// <summary>Accuracy of the model with one tensor pruned at each swept sparsity.</summary>
public sealed record SensitivityRow(string Tensor, long Parameters, IReadOnlyList<double> Sparsities, IReadOnlyList<float> Accuracies);

/// <summary>The outcome of <see cref="Sensitivity.Analyze"/>.</summary>
public sealed record SensitivityReport(float BaselineAccuracy, IReadOnlyList<SensitivityRow> Rows, int Samples)
{
    /// <summary>The <see cref="ModelFingerprint"/> of the model analysed (null in reports written before it was recorded).</summary>
    public string? ModelSha256 { get; init; }
}

/// <summary>Per-tensor pruning sensitivity.</summary>
public static class Sensitivity
{
    /// <summary>Sparsities 0, 5, …, 95 %.</summary>
    public static IReadOnlyList<double> DefaultSweep { get; } = Enumerable.Range(0, 20).Select(i => i * 0.05).ToArray();

    /// <summary>
    /// For each prunable tensor of <paramref name="model"/> (per <paramref name="options"/>'s patterns), prunes
    /// it alone by magnitude at each of <paramref name="sparsities"/> and evaluates on <paramref name="data"/>.
    /// The model's weights are restored afterwards.
    /// </summary>
    public static SensitivityReport Analyze(GraphModule model, Dataset data, IReadOnlyList<double>? sparsities = null,
        PruneOptions? options = null, IProgress<(int Done, int Total)>? progress = null)
    {
        sparsities ??= DefaultSweep;
        if (sparsities.Any(s => !(s >= 0 && s <= 1))) throw new CondenseException("sensitivity sparsities must be in [0, 1]");
        QuantizedWeights.ThrowIfQuantized(model.Graph);
        var targets = Prunable.Find(model, options ?? new PruneOptions());
        float baseline = Evaluator.Evaluate(model, data).Accuracy;
        // Under mpirun the ranks share the (tensor, sparsity) evaluations and every rank ends with the whole table (AloneSweep).
        var accuracies = AloneSweep.Run(targets, sparsities.Count, (t, original, j) =>
        {
            var mask = Masks.Magnitude(original, sparsities[j]);
            System.Numerics.Tensors.TensorPrimitives.Multiply(original, mask, t.Parameter.Data);
            t.Parameter.MarkModified();
        }, () => Evaluator.Evaluate(model, data).Accuracy, progress);
        var rows = targets.Select((t, i) => new SensitivityRow(t.Name, t.Parameter.Size, sparsities.ToArray(),
            [.. accuracies.AsSpan(i * sparsities.Count, sparsities.Count).ToArray().Select(a => (float)a)])).ToList();
        return new SensitivityReport(baseline, rows, data.Count) { ModelSha256 = ModelFingerprint.Of(model) };
    }

    /// <summary>
    /// Throws unless <paramref name="report"/> (read from <paramref name="reportPath"/>) was made for the weights of
    /// <paramref name="model"/>: another model's sweep names other tensors or other sensitivities, and spending a
    /// budget by it silently misses the sparsity asked for. A report without a fingerprint is refused too.
    /// </summary>
    public static void CheckModel(SensitivityReport report, GraphModule model, string reportPath)
    {
        string name = Path.GetFileName(reportPath);
        if (report.ModelSha256 is null)
            throw new CondenseException($"sensitivity report {name} does not record which model it was made for; run the sensitivity analysis again");
        string actual = ModelFingerprint.Of(model);
        if (!string.Equals(report.ModelSha256, actual, StringComparison.OrdinalIgnoreCase))
            throw new CondenseException($"sensitivity report {name} was made for another model (weights {Short(report.ModelSha256)}…, " +
                $"this model's {Short(actual)}…); run the sensitivity analysis on this model");
        // The fingerprint covers the weights, not the rows: a hand-edited row may name a tensor the model does not have.
        if (report.Rows.FirstOrDefault(r => !model.Graph.Initializers.ContainsKey(r.Tensor)) is { } stranger)
            throw new CondenseException($"sensitivity report {name} has a row for '{stranger.Tensor}', which is not a tensor of this model");
    }

    private static string Short(string hash) => hash[..Math.Min(12, hash.Length)];

    /// <summary>
    /// Per-tensor sparsities whose parameter-weighted mean is at least <paramref name="budget"/>: finds the
    /// smallest accuracy drop δ such that pruning every tensor to the largest swept sparsity losing at most δ
    /// meets the budget. Sparsities come from the sweep, so the result may exceed the budget slightly.
    /// </summary>
    public static IReadOnlyDictionary<string, double> AllocateBudget(SensitivityReport report, double budget)
    {
        if (!(budget >= 0 && budget <= 1)) throw new CondenseException($"budget must be in [0, 1], got {budget}");
        long total = report.Rows.Sum(r => r.Parameters);
        var drops = report.Rows.SelectMany(r => r.Accuracies.Select(a => report.BaselineAccuracy - a)).Append(0f).Distinct().Order().ToList();
        foreach (var delta in drops)
        {
            var choice = report.Rows.ToDictionary(r => r.Tensor, r => LargestWithin(r, report.BaselineAccuracy, delta));
            double achieved = report.Rows.Sum(r => choice[r.Tensor] * r.Parameters) / Math.Max(1, total);
            if (achieved >= budget - 1e-9) return choice;
        }
        throw new CondenseException(
            $"a global sparsity of {budget:P0} is beyond the swept range (max {report.Rows.Max(r => r.Sparsities.Max()):P0} per tensor)");
    }

    private static double LargestWithin(SensitivityRow row, float baseline, float delta)
    {
        double best = 0;
        for (int i = 0; i < row.Sparsities.Count; i++)
            if (baseline - row.Accuracies[i] <= delta + 1e-6f) best = Math.Max(best, row.Sparsities[i]);
        return best;
    }
}
