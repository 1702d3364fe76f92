// k-means of weight sharing against hand-made data: tight, well separated clusters must be recovered
// exactly (centroids and assignments); linear initialisation is evenly spaced and deterministic.
using Condense.DeepCompression;
using Condense.Quantization;
using Condense.Tests.Quantization;

namespace Condense.Tests.DeepCompression;

public sealed class KMeansTests
{
    // Three tight clusters around −1, 0.2 and 3, interleaved, with offsets that cancel within each cluster.
    private static (float[] Values, int[] Cluster) ThreeClusters()
    {
        float[] centers = [-1f, 0.2f, 3f];
        int[] sizes = [31, 7, 65];
        var values = new List<float>();
        var cluster = new List<int>();
        for (int i = 0; i < sizes.Max(); i++)
            for (int c = 0; c < 3; c++)
                if (i < sizes[c])
                {
                    // ±0.01 pairs, and a 0 for odd sizes: each cluster's mean is its center.
                    float offset = i == sizes[c] - 1 && sizes[c] % 2 == 1 ? 0f : (i % 2 == 0 ? 0.01f : -0.01f);
                    values.Add(centers[c] + offset);
                    cluster.Add(c);
                }
        return (values.ToArray(), cluster.ToArray());
    }

    [Fact]
    public void LinearInitIsEvenlySpacedBetweenMinAndMax()
    {
        Assert.Equal([0f, 1f, 2f, 3f], KMeans.LinearInit([3f, 0f, 1f, 2.5f], 4));
        Assert.Equal([-2f, 2f], KMeans.LinearInit([2f, -2f, 0.5f], 2));
        Assert.Equal([1.5f, 1.5f, 1.5f], KMeans.LinearInit([1.5f, 1.5f], 3));
        Assert.Equal([0f, 0f], KMeans.LinearInit([], 2));
    }

    [Fact]
    public void RecoversThreeSeparatedClusters()
    {
        var (values, truth) = ThreeClusters();
        var fit = KMeans.Fit(values, 3);
        Assert.True(fit.Converged);
        Assert.Equal(-1f, fit.Centroids[0], 1e-5f);
        Assert.Equal(0.2f, fit.Centroids[1], 1e-5f);
        Assert.Equal(3f, fit.Centroids[2], 1e-5f);
        Assert.Equal(truth, fit.Assignments);
    }

    [Fact]
    public void WithMoreCentroidsThanClustersTheExtraOnesStayEmpty()
    {
        var (values, truth) = ThreeClusters();
        var fit = KMeans.Fit(values, 4);
        // Linear init: −1.01, 0.3467, 1.7033, 3.01 → the third centroid gets nothing and keeps its place.
        Assert.Equal(-1f, fit.Centroids[0], 1e-5f);
        Assert.Equal(0.2f, fit.Centroids[1], 1e-5f);
        Assert.Equal(3f, fit.Centroids[3], 1e-5f);
        Assert.Equal(KMeans.LinearInit(values, 4)[2], fit.Centroids[2]);
        Assert.Equal(truth.Select(c => c == 2 ? 3 : c), fit.Assignments);
        Assert.DoesNotContain(2, fit.Assignments);
    }

    [Fact]
    public void IsDeterministicAndSorted()
    {
        var values = QuantizationTestData.Normal(5000, seed: 3);
        var a = KMeans.Fit(values, 16, maxIterations: 1000);
        var b = KMeans.Fit(values, 16, maxIterations: 1000);
        Assert.True(a.Converged, $"{a.Iterations} iterations");
        Assert.Equal(a.Centroids, b.Centroids);
        Assert.Equal(a.Assignments, b.Assignments);
        for (int j = 1; j < a.Centroids.Length; j++) Assert.True(a.Centroids[j - 1] <= a.Centroids[j]);
        // Every value sits at its nearest centroid, and each centroid is the mean of its values.
        for (int i = 0; i < values.Length; i++)
        {
            float d = Math.Abs(values[i] - a.Centroids[a.Assignments[i]]);
            Assert.All(a.Centroids, c => Assert.True(d <= Math.Abs(values[i] - c) + 1e-6f));
        }
        for (int j = 0; j < 16; j++)
        {
            var members = values.Where((_, i) => a.Assignments[i] == j).ToArray();
            if (members.Length > 0) Assert.Equal(members.Average(v => (double)v), a.Centroids[j], 1e-5);
        }
    }

    [Fact]
    public void IterationLimitStopsEarly()
    {
        var values = QuantizationTestData.Normal(2000, seed: 4);
        var fit = KMeans.Fit(values, 32, maxIterations: 1);
        Assert.Equal(1, fit.Iterations);
        Assert.False(fit.Converged);
    }

    [Fact]
    public void NearestBreaksTiesTowardTheLowerCentroid()
    {
        float[] c = [-1f, 0f, 1f];
        Assert.Equal(0, KMeans.Nearest(c, -0.5f));
        Assert.Equal(1, KMeans.Nearest(c, 0.5f));
        Assert.Equal(0, KMeans.Nearest(c, -7f));
        Assert.Equal(2, KMeans.Nearest(c, 7f));
        Assert.Equal(2, KMeans.Nearest(c, 0.51f));
    }
}
