// `condense sensitivity --report`: accuracy against sparsity with one line per tensor pruned alone (Han et al.
// 2015, figure 6), and one bar per tensor for the accuracy it loses at the sweep's highest sparsity up to 90 %.
using Condense.Plots;
using Condense.Pruning;

namespace Condense.Cli.Reporting;

internal static class SensitivityFigures
{
    public static IEnumerable<PlotImage> Of(SensitivityReport report)
    {
        yield return Charts.Lines("accuracy-vs-sparsity", "accuracy with one tensor pruned alone", "sparsity (%)", "accuracy (%)",
            report.Rows.Select(r => new LineSeries(r.Tensor, r.Sparsities.Select(s => 100 * s).ToList(),
                r.Accuracies.Select(a => 100.0 * a).ToList())).ToList());
        var sweep = report.Rows.FirstOrDefault()?.Sparsities ?? [];
        if (sweep.Count == 0) yield break;
        int at = Enumerable.Range(0, sweep.Count).Where(i => sweep[i] <= 0.9 + 1e-9).DefaultIfEmpty(0).MaxBy(i => sweep[i]);
        yield return Charts.Bars("sensitivity", $"accuracy lost with one tensor pruned alone to {sweep[at]:P0} (points)", "accuracy drop (points)",
            report.Rows.Select(r => (r.Tensor, 100.0 * (report.BaselineAccuracy - r.Accuracies[at]))).ToList());
    }
}
