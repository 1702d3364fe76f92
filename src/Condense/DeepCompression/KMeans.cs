// One-dimensional k-means (Lloyd's algorithm) for weight sharing (Han et al. 2016, "Deep Compression",
// §3.1–3.2): minimise Σ_k Σ_{w∈c_k} |w − c_k|² over the scalar weights of one tensor. Centroids start
// evenly spaced between min and max ("linear initialisation", which the paper found best because it
// keeps a few centroids on the rare large weights). Fully deterministic: no random start, sums in double.
namespace Condense.DeepCompression;

/// <summary>The outcome of <see cref="KMeans.Fit"/>.</summary>
/// <param name="Centroids">The k cluster values, in ascending order (1-D Lloyd iterations keep the initial order).</param>
/// <param name="Assignments">For each input value, the index of its centroid.</param>
/// <param name="Iterations">Lloyd iterations run (assignment + update pairs).</param>
/// <param name="Converged">True when the assignments stopped changing before the iteration limit.</param>
public sealed record KMeansResult(float[] Centroids, int[] Assignments, int Iterations, bool Converged);

/// <summary>Deterministic 1-D k-means with linear initialisation.</summary>
public static class KMeans
{
    /// <summary>The iteration limit used when none is given (1-D Lloyd converges slowly on bell-shaped weights: ~200 iterations for 16 clusters).</summary>
    public const int DefaultMaxIterations = 300;

    /// <summary>
    /// k centroids evenly spaced from min to max of <paramref name="values"/>: c_j = min + j·(max − min)/(k − 1).
    /// All equal to the value when the values are all equal (or k = 1); all zero when there are no values.
    /// </summary>
    public static float[] LinearInit(ReadOnlySpan<float> values, int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");
        var centroids = new float[k];
        if (values.IsEmpty) return centroids;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) throw new CondenseException($"k-means needs finite values, got {v}");
            min = Math.Min(min, v); max = Math.Max(max, v);
        }
        for (int j = 0; j < k; j++)
            centroids[j] = k == 1 ? min : (float)(min + (double)j * ((double)max - min) / (k - 1));
        centroids[k - 1] = k == 1 ? min : max; // exact end point, whatever the rounding above
        return centroids;
    }

    /// <summary>
    /// Clusters <paramref name="values"/> into <paramref name="k"/> groups: linear initialisation, then Lloyd
    /// iterations (assign each value to its nearest centroid, move each centroid to the mean of its values) until
    /// no assignment changes or <paramref name="maxIterations"/> is reached (then the values are assigned once more to
    /// the final centroids, so each sits at its nearest centroid either way). An empty cluster keeps its centroid.
    /// A value equally far from two centroids goes to the lower one.
    /// </summary>
    public static KMeansResult Fit(ReadOnlySpan<float> values, int k, int maxIterations = DefaultMaxIterations)
    {
        if (maxIterations < 1) throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "at least one iteration");
        var centroids = LinearInit(values, k);
        var assignments = new int[values.Length];
        var sums = new double[k];
        var counts = new long[k];
        bool converged = false;
        int iteration = 0;
        while (iteration < maxIterations)
        {
            iteration++;
            bool changed = iteration == 1;
            for (int i = 0; i < values.Length; i++)
            {
                int j = Nearest(centroids, values[i]);
                if (j != assignments[i]) { assignments[i] = j; changed = true; }
            }
            if (!changed) { converged = true; break; }
            Array.Clear(sums); Array.Clear(counts);
            for (int i = 0; i < values.Length; i++) { sums[assignments[i]] += values[i]; counts[assignments[i]]++; }
            for (int j = 0; j < k; j++)
                if (counts[j] > 0) centroids[j] = (float)(sums[j] / counts[j]);
        }
        // Stopped by the limit: assign once more, so every value still sits at its nearest centroid.
        if (!converged)
            for (int i = 0; i < values.Length; i++) assignments[i] = Nearest(centroids, values[i]);
        return new KMeansResult(centroids, assignments, iteration, converged);
    }

    /// <summary>The index of the centroid nearest to <paramref name="v"/> in ascending <paramref name="centroids"/> (ties: the lower index).</summary>
    public static int Nearest(ReadOnlySpan<float> centroids, float v)
    {
        // Binary search for the first centroid ≥ v, then compare with its left neighbour: O(log k) per value.
        int lo = 0, hi = centroids.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (centroids[mid] < v) lo = mid + 1; else hi = mid;
        }
        if (lo == centroids.Length) return centroids.Length - 1;
        if (lo == 0) return 0;
        return (double)v - centroids[lo - 1] <= (double)centroids[lo] - v ? lo - 1 : lo;
    }
}
