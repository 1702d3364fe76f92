// RunWarnings against hand-computed thresholds: chance is 1.5 / classes, and a drop counts when it is more
// than ten points below the baseline.
using Condense.Reports;

namespace Condense.Tests.Reports;

public sealed class RunWarningsTests
{
    [Fact]
    public void ChanceLevelAndALargeDropAreReported()
    {
        Assert.Empty(RunWarnings.Check(0.97, 10, 0.975, "the model before pruning"));
        Assert.Empty(RunWarnings.Check(0.151, 10));                         // just above 1.5 / 10
        Assert.Single(RunWarnings.Check(0.15, 10));
        Assert.Single(RunWarnings.Check(0.74, 2));                          // 1.5 / 2 = 0.75
        Assert.Single(RunWarnings.Check(double.NaN, 10));

        var both = RunWarnings.Check(0.0975, 10, 0.9525, "the same student trained on labels only");
        Assert.Equal(2, both.Count);
        Assert.StartsWith("accuracy 9.75 % is at chance level (10 classes: 10.00 %)", both[0]);
        Assert.Equal("accuracy 9.75 % is 85.5 points below the same student trained on labels only (95.25 %)", both[1]);

        Assert.Empty(RunWarnings.Check(0.86, 10, 0.955, "b"));              // 9.5 points: within
        Assert.Equal(["accuracy 85.00 % is 10.5 points below b (95.50 %)"], RunWarnings.Check(0.85, 10, 0.955, "b"));
    }
}
