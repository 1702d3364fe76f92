// Sensitivity analysis: each swept point recomputed by pruning a copy, weights restored bit for bit;
// the budget allocation checked on a hand-made report.
using Condense.Pruning;
using Condense.Training;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class SensitivityTests
{
    [Fact]
    public void AnalyzeMatchesRecomputationAndRestoresEveryWeight()
    {
        var model = TrainedMlp.Fresh();
        var test = TrainedMlp.Test.Take(200);
        var before = Snapshot(model);
        double[] sweep = [0, 0.5, 0.9];

        var report = Sensitivity.Analyze(model, test, sweep);

        foreach (var (name, data) in before) AssertBitEqual(data, Param(model, name).Data, name);
        float baseline = Evaluator.Evaluate(model, test).Accuracy;
        Assert.Equal(baseline, report.BaselineAccuracy);
        Assert.Equal(200, report.Samples);
        Assert.Equal(["1.weight", "3.weight"], report.Rows.Select(r => r.Tensor));
        Assert.Equal([784L * 32, 32L * 10], report.Rows.Select(r => r.Parameters));
        foreach (var row in report.Rows)
        {
            Assert.Equal(sweep, row.Sparsities);
            Assert.Equal(baseline, row.Accuracies[0]);
            for (int i = 1; i < sweep.Length; i++)
            {
                var copy = TrainedMlp.Fresh();
                Pruner.Prune(copy, new PruneOptions { Sparsity = sweep[i], Include = [row.Tensor] });
                Assert.Equal(Evaluator.Evaluate(copy, test).Accuracy, row.Accuracies[i]);
            }
        }
        Assert.Throws<CondenseException>(() => Sensitivity.Analyze(model, test, [0, 1.5]));
        foreach (var (name, data) in before) AssertBitEqual(data, Param(model, name).Data, name);
    }

    // A is insensitive (loses 2 points at 90 %), B sensitive; A has three times B's parameters.
    private static readonly SensitivityReport Report = new(0.9f,
    [
        new SensitivityRow("A", 3000, [0, 0.5, 0.9], [0.9f, 0.89f, 0.88f]),
        new SensitivityRow("B", 1000, [0, 0.5, 0.9], [0.9f, 0.6f, 0.3f]),
    ], 100);

    [Theory]
    [InlineData(0.0, 0.0, 0.0)]
    [InlineData(0.3, 0.5, 0.0)]
    [InlineData(0.6, 0.9, 0.0)]
    [InlineData(0.675, 0.9, 0.0)]
    [InlineData(0.7, 0.9, 0.5)]
    [InlineData(0.9, 0.9, 0.9)]
    public void AllocateBudgetMeetsTheBudgetPruningTheInsensitiveTensorFirst(double budget, double expectA, double expectB)
    {
        var choice = Sensitivity.AllocateBudget(Report, budget);
        Assert.Equal(expectA, choice["A"]);
        Assert.Equal(expectB, choice["B"]);
        double mean = (choice["A"] * 3000 + choice["B"] * 1000) / 4000;
        Assert.True(mean >= budget - 1e-12, $"mean {mean} below budget {budget}");
        Assert.True(choice["A"] >= choice["B"]);
    }

    [Fact]
    public void BudgetBeyondTheSweepIsAnError()
    {
        var e = Assert.Throws<CondenseException>(() => Sensitivity.AllocateBudget(Report, 0.95));
        Assert.Contains("beyond the swept range", e.Message);
        Assert.Throws<CondenseException>(() => Sensitivity.AllocateBudget(Report, 1.5));
        Assert.Throws<CondenseException>(() => Sensitivity.AllocateBudget(Report, -0.1));
    }
}
