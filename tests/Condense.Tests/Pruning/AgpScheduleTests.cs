// The AGP schedule against the Zhu & Gupta formula written out here, its pruning steps counted one
// by one, Spread's fit into a training run, and validation.
using Condense.Pruning;

namespace Condense.Tests.Pruning;

public sealed class AgpScheduleTests
{
    // s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³
    private static double Formula(double si, double sf, int t0, int n, int dt, int t) =>
        sf + (si - sf) * Math.Pow(1 - (t - t0) / (double)(n * dt), 3);

    [Fact]
    public void SparsityFollowsTheFormula()
    {
        var s = new AgpSchedule(0.1, 0.9, StartStep: 5, PruningSteps: 4, Frequency: 3).Validate();
        Assert.Equal(0.1, s.SparsityAt(0));
        Assert.Equal(0.1, s.SparsityAt(4));
        Assert.Equal(0.1, s.SparsityAt(5), 12);
        Assert.Equal(0.8, s.SparsityAt(11), 12); // half way: 0.9 − 0.8·(1/2)³
        Assert.Equal(0.9 - 0.8 * 27 / 64.0, s.SparsityAt(8), 12);
        for (int t = 5; t <= 17; t++) Assert.Equal(Formula(0.1, 0.9, 5, 4, 3, t), s.SparsityAt(t), 12);
        Assert.Equal(0.9, s.SparsityAt(17));
        foreach (int t in new[] { 18, 20, 1000, int.MaxValue }) Assert.Equal(0.9, s.SparsityAt(t));
        for (int t = 6; t <= 17; t++) Assert.True(s.SparsityAt(t) > s.SparsityAt(t - 1));
    }

    [Fact]
    public void PruningStepsAreEveryDeltaFromStartToEnd()
    {
        var s = new AgpSchedule(0, 0.8, StartStep: 5, PruningSteps: 4, Frequency: 3);
        var steps = Enumerable.Range(0, 40).Where(s.IsPruningStep).ToArray();
        Assert.Equal([5, 8, 11, 14, 17], steps);
        var every = new AgpSchedule(0, 0.8, 0, 3, 1);
        Assert.Equal([0, 1, 2, 3], Enumerable.Range(0, 10).Where(every.IsPruningStep));
    }

    [Fact]
    public void SpreadPrunesOverTheFirstTwoThirds()
    {
        var s = AgpSchedule.Spread(0, 0.9, totalSteps: 300, pruningSteps: 10);
        Assert.Equal(0, s.StartStep);
        Assert.Equal(20, s.Frequency);
        var steps = Enumerable.Range(1, 300).Where(s.IsPruningStep).ToArray();
        Assert.Equal(10, steps.Length);
        Assert.Equal(200, steps[^1]);
        Assert.Equal(0.9, s.SparsityAt(200));
        Assert.Equal(0.9, s.SparsityAt(300));
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 10)]
    [InlineData(5, 10)]
    [InlineData(10, 10)]
    [InlineData(14, 10)]
    [InlineData(16, 10)]
    [InlineData(31, 10)]
    [InlineData(7, 1)]
    [InlineData(1000, 100)]
    public void SpreadReachesTheFinalSparsityWithinTraining(int totalSteps, int pruningSteps)
    {
        // The trainer counts steps from 1; the last pruning step must come before training ends.
        var s = AgpSchedule.Spread(0.2, 0.9, totalSteps, pruningSteps);
        var steps = Enumerable.Range(1, totalSteps).Where(s.IsPruningStep).ToArray();
        Assert.NotEmpty(steps);
        Assert.Equal(0.9, s.SparsityAt(steps[^1]));
        Assert.True(steps.Length <= pruningSteps, $"{steps.Length} pruning steps, asked for {pruningSteps}");
    }

    [Theory]
    [InlineData(-0.1, 0.5, 0, 1, 1)]
    [InlineData(0, 1.5, 0, 1, 1)]
    [InlineData(double.NaN, 0.5, 0, 1, 1)]
    [InlineData(0, 0.5, -1, 1, 1)]
    [InlineData(0, 0.5, 0, 0, 1)]
    [InlineData(0, 0.5, 0, 1, 0)]
    public void InvalidSchedules(double si, double sf, int t0, int n, int dt)
    {
        Assert.Throws<CondenseException>(() => new AgpSchedule(si, sf, t0, n, dt).Validate());
    }

    [Fact]
    public void SpreadValidates()
    {
        Assert.Throws<CondenseException>(() => AgpSchedule.Spread(0, 1.1, 100));
        Assert.Throws<CondenseException>(() => AgpSchedule.Spread(-1, 0.5, 100));
        Assert.Throws<CondenseException>(() => AgpSchedule.Spread(0, 0.5, 100, pruningSteps: 0));
    }
}
