// Mask computations, one per method. A mask is 1 where a weight is kept and 0 where it is pruned;
// nothing here changes a weight. Magnitude targets are exact: sparsity s of n weights zeroes exactly
// round(s·n) of them, the smallest |w| first, ties broken by position so the result is deterministic.
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>Computes pruning masks.</summary>
public static class Masks
{
    /// <summary>The classic rule: keep w where |w| ≥ threshold, prune where |w| &lt; threshold.</summary>
    public static float[] Threshold(ReadOnlySpan<float> weights, float threshold)
    {
        var mask = new float[weights.Length];
        for (int i = 0; i < weights.Length; i++) mask[i] = MathF.Abs(weights[i]) < threshold ? 0f : 1f;
        return mask;
    }

    /// <summary>Prunes exactly round(sparsity · n) weights of smallest magnitude (L1 unstructured).</summary>
    public static float[] Magnitude(ReadOnlySpan<float> weights, double sparsity) =>
        GlobalMagnitude([weights.ToArray()], sparsity)[0];

    /// <summary>
    /// One ranking across all tensors: prunes exactly round(sparsity · Σn) weights of smallest magnitude
    /// wherever they are, so layers with many small weights lose more.
    /// </summary>
    public static float[][] GlobalMagnitude(IReadOnlyList<float[]> tensors, double sparsity)
    {
        long total = tensors.Sum(t => (long)t.Length);
        long prune = PruneCount(total, sparsity);
        var magnitudes = new float[total];
        long offset = 0;
        foreach (var t in tensors)
        {
            for (int i = 0; i < t.Length; i++) magnitudes[offset + i] = MathF.Abs(t[i]);
            offset += t.Length;
        }
        var order = new int[total];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        // Stable order by magnitude: equal magnitudes keep their position order (Array.Sort is unstable).
        Array.Sort(order, (a, b) => magnitudes[a] != magnitudes[b] ? magnitudes[a].CompareTo(magnitudes[b]) : a.CompareTo(b));
        var flat = new float[total];
        Array.Fill(flat, 1f);
        for (long i = 0; i < prune; i++) flat[order[i]] = 0f;
        return Split(flat, tensors);
    }

    /// <summary>Prunes exactly round(sparsity · n) weights chosen uniformly at random.</summary>
    public static float[] Random(int count, double sparsity, Rng rng)
    {
        long prune = PruneCount(count, sparsity);
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        // Partial Fisher–Yates: the first `prune` positions are a uniform random subset.
        for (int i = 0; i < prune; i++)
        {
            int j = i + rng.NextInt(count - i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var mask = new float[count];
        Array.Fill(mask, 1f);
        for (int i = 0; i < prune; i++) mask[order[i]] = 0f;
        return mask;
    }

    /// <summary>
    /// N:M semi-structured sparsity (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks"): for
    /// each output neuron, its input weights in groups of <paramref name="m"/> consecutive ones keep the
    /// <paramref name="n"/> largest |w|. <paramref name="index"/> maps (neuron, input) to the flat position.
    /// A last group shorter than M keeps min(N, its length).
    /// </summary>
    public static float[] NM(ReadOnlySpan<float> weights, int outputs, int inputs, Func<int, int, int> index, int n, int m)
    {
        var mask = new float[weights.Length];
        var group = new int[m];
        var w = weights.ToArray();
        Comparison<int> largestFirst = (a, b) => MathF.Abs(w[b]) != MathF.Abs(w[a]) ? MathF.Abs(w[b]).CompareTo(MathF.Abs(w[a])) : a.CompareTo(b);
        for (int o = 0; o < outputs; o++)
            for (int start = 0; start < inputs; start += m)
            {
                int len = Math.Min(m, inputs - start);
                for (int j = 0; j < len; j++) group[j] = index(o, start + j);
                var members = group.AsSpan(0, len);
                members.Sort(largestFirst);
                for (int j = 0; j < Math.Min(n, len); j++) mask[members[j]] = 1f;
            }
        return mask;
    }

    /// <summary>The fraction of zeros in a mask.</summary>
    public static double Sparsity(ReadOnlySpan<float> mask)
    {
        long zeros = 0;
        foreach (float v in mask) if (v == 0f) zeros++;
        return mask.Length == 0 ? 0 : (double)zeros / mask.Length;
    }

    /// <summary>
    /// Sets <paramref name="mask"/> to 0 at the <paramref name="prune"/> lowest <paramref name="scores"/> and to 1 elsewhere;
    /// equal scores are pruned in position order (the magnitude ranking's tie rule). For per-row and per-group score masks.
    /// </summary>
    internal static void PruneLowest(ReadOnlySpan<double> scores, int prune, Span<float> mask)
    {
        var keys = scores.ToArray();
        var order = new int[keys.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => keys[a] != keys[b] ? keys[a].CompareTo(keys[b]) : a.CompareTo(b));
        mask.Slice(0, keys.Length).Fill(1f);
        for (int i = 0; i < prune; i++) mask[order[i]] = 0f;
    }

    internal static long PruneCount(long total, double sparsity) =>
        Math.Clamp((long)Math.Round(sparsity * total, MidpointRounding.AwayFromZero), 0, total);

    private static float[][] Split(float[] flat, IReadOnlyList<float[]> shapes)
    {
        var result = new float[shapes.Count][];
        long offset = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            result[i] = flat.AsSpan((int)offset, shapes[i].Length).ToArray();
            offset += shapes[i].Length;
        }
        return result;
    }
}
