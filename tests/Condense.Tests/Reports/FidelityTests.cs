// The fidelity measures on constructed embeddings: identical sets score 1, a known change of neighbours gives its
// known overlap, and the Spearman correlation matches a direct computation (ties at their mean rank).
using Condense.Reports;

namespace Condense.Tests.Reports;

public class FidelityTests
{
    private static float[][] Circle(int n) =>
        [.. Enumerable.Range(0, n).Select(i => new[] { (float)Math.Cos(2 * Math.PI * i / n), (float)Math.Sin(2 * Math.PI * i / n), 0f })];

    [Fact]
    public void IdenticalEmbeddingsScoreOne()
    {
        var e = Circle(30);
        var f = Fidelity.Measure(e, e);
        Assert.Equal((1.0, 1.0, 1.0, 30, 10), (Math.Round(f.CosineMean, 12), Math.Round(f.CosineMin, 12), f.TopKOverlap, f.Passages, f.Neighbours));
        Assert.Equal(1.0, f.Spearman, 12);
    }

    [Fact]
    public void ScaledEmbeddingsKeepEveryMeasure()
    {
        var e = Circle(12);
        var scaled = e.Select(v => v.Select(x => 3 * x).ToArray()).ToArray();
        var f = Fidelity.Measure(scaled, e, neighbours: 4);
        Assert.Equal(1.0, f.CosineMin, 9);
        Assert.Equal(1.0, f.TopKOverlap);
    }

    // Four points on the circle; the model swaps the places of points 0 and 2. Each point's single nearest neighbour
    // (k = 1, ties to the lower index) is computed by hand for both: the overlap is the share that agree.
    [Fact]
    public void SwappedPointsGiveTheKnownOverlap()
    {
        float[][] reference = [[1, 0], [0.9f, 0.436f], [-1, 0], [-0.9f, -0.436f]];
        float[][] model = [reference[2], reference[1], reference[0], reference[3]];
        // Reference nearest: 0→1, 1→0, 2→3, 3→2. Model (0 and 2 swapped): 0→3, 1→2, 2→1, 3→0. None agree.
        var f = Fidelity.Measure(model, reference, neighbours: 1);
        Assert.Equal(0.0, f.TopKOverlap);
        Assert.Equal(-1.0, f.CosineMin, 6);
        Assert.Equal(0.0, f.CosineMean, 6);
    }

    [Fact]
    public void SpearmanMatchesADirectComputationWithTies()
    {
        (double, double)[] pairs = [(1, 2), (2, 2), (3, 5), (4, 4), (4, 7)];
        // Ranks x: 1, 2, 3, 4.5, 4.5; y: 1.5, 1.5, 4, 3, 5. Pearson of the ranks:
        double[] rx = [1, 2, 3, 4.5, 4.5], ry = [1.5, 1.5, 4, 3, 5];
        double mx = rx.Average(), my = ry.Average();
        double expected = rx.Zip(ry).Sum(p => (p.First - mx) * (p.Second - my))
            / Math.Sqrt(rx.Sum(v => (v - mx) * (v - mx)) * ry.Sum(v => (v - my) * (v - my)));
        Assert.Equal(expected, Fidelity.SpearmanCorrelation(pairs), 12);
    }

    [Fact]
    public void MismatchedSetsAreRefused() =>
        Assert.Throws<CondenseException>(() => Fidelity.Measure(Circle(3), Circle(4)));

    [Fact]
    public void ZeroOutputsAreIdenticalWhenBothAreZero()
    {
        Assert.Equal(1, Fidelity.Cosine(new float[3], new float[3]));
        Assert.Equal(0, Fidelity.Cosine(new float[3], [0f, 1f, 0f]));
        Assert.Equal(-1, Fidelity.Cosine([2f], [-0.5f]), 12);
    }

    [Fact]
    public void RelativeErrorIsTheNormOfTheDifferenceOverTheReferences()
    {
        // Rows (3, 4) and (1) against (3, 0) and (2): ‖(0, 4, −1)‖ / ‖(3, 0, 2)‖ = √17 / √13, which the cosines of the
        // one-value rows (both 1) do not show.
        float[][] outputs = [[3f, 4f], [1f]], reference = [[3f, 0f], [2f]];
        Assert.Equal(Math.Sqrt(17.0 / 13.0), Fidelity.RelativeError(outputs, reference), 12);
        Assert.Equal(0, Fidelity.RelativeError(reference, reference));
        Assert.Equal(0, Fidelity.RelativeError([[0f]], [[0f]]));
        Assert.Equal(double.PositiveInfinity, Fidelity.RelativeError([[1f]], [[0f]]));
    }
}
