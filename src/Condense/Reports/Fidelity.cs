// Fidelity of a model to a reference when there are no labels: how closely its embeddings of the same passages
// follow the reference's. cosine_mean / cosine_min: the cosine between the two embeddings of each passage.
// top10_overlap: for each passage, the share of its 10 nearest neighbours (by cosine, itself excluded) that both
// models agree on, averaged: what a search index built on the model would return. spearman: the rank correlation
// of all pairwise similarities, the standard STS measure (Reimers et al. 2016).
namespace Condense.Reports;

/// <summary>Fidelity of embeddings to reference embeddings of the same passages.</summary>
/// <param name="CosineMean">Mean per-passage cosine between the two embeddings.</param>
/// <param name="CosineMin">Lowest per-passage cosine.</param>
/// <param name="TopKOverlap">Mean share of the nearest neighbours both agree on.</param>
/// <param name="Spearman">Rank correlation of all pairwise cosine similarities.</param>
/// <param name="Passages">Passages compared.</param>
/// <param name="Neighbours">Neighbours per passage in <see cref="TopKOverlap"/> (10, or fewer for small sets).</param>
public sealed record Fidelity(double CosineMean, double CosineMin, double TopKOverlap, double Spearman, int Passages, int Neighbours)
{
    /// <summary>Compares <paramref name="embeddings"/> with <paramref name="reference"/>, row by row.</summary>
    public static Fidelity Measure(IReadOnlyList<float[]> embeddings, IReadOnlyList<float[]> reference, int neighbours = 10)
    {
        if (embeddings.Count != reference.Count || embeddings.Count < 2)
            throw new CondenseException($"fidelity needs the same passages from both models, at least 2 (got {embeddings.Count} and {reference.Count})");
        int n = embeddings.Count;
        var cosines = Enumerable.Range(0, n).Select(i => Cosine(embeddings[i], reference[i])).ToArray();
        var similarity = Similarities(embeddings);
        var referenceSimilarity = Similarities(reference);
        int k = Math.Min(neighbours, n - 1);
        double overlap = Enumerable.Range(0, n).Average(i =>
            Nearest(similarity[i], i, k).Intersect(Nearest(referenceSimilarity[i], i, k)).Count() / (double)k);
        var pairs = new List<(double Model, double Reference)>(n * (n - 1) / 2);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) pairs.Add((similarity[i][j], referenceSimilarity[i][j]));
        return new Fidelity(cosines.Average(), cosines.Min(), overlap, SpearmanCorrelation(pairs), n, k);
    }

    /// <summary>The cosine of the angle between <paramref name="a"/> and <paramref name="b"/> (1 when both are zero, 0 when one is).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new CondenseException($"embeddings of different sizes: {a.Length} and {b.Length}");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        if (na == 0 || nb == 0) return na == nb ? 1 : 0;   // two zero outputs are the same output
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>
    /// ‖outputs − reference‖ / ‖reference‖ over every value of every row (0 when both are zero): the error the cosines do not
    /// see, such as a scale, and the only one a model of one output value per sample has (its cosine is ±1).
    /// </summary>
    public static double RelativeError(IReadOnlyList<float[]> outputs, IReadOnlyList<float[]> reference)
    {
        double error = 0, norm = 0;
        for (int r = 0; r < outputs.Count; r++)
            for (int i = 0; i < outputs[r].Length; i++)
            {
                double d = (double)outputs[r][i] - reference[r][i];
                error += d * d;
                norm += (double)reference[r][i] * reference[r][i];
            }
        return norm == 0 ? (error == 0 ? 0 : double.PositiveInfinity) : Math.Sqrt(error / norm);
    }

    private static double[][] Similarities(IReadOnlyList<float[]> rows)
    {
        int n = rows.Count;
        var s = new double[n][];
        for (int i = 0; i < n; i++) s[i] = new double[n];
        Parallel.For(0, n, i => { for (int j = 0; j < n; j++) s[i][j] = i == j ? 1 : Cosine(rows[i], rows[j]); });
        return s;
    }

    // The k most similar other rows; ties go to the lower index, so the result is deterministic.
    private static IEnumerable<int> Nearest(double[] similarity, int self, int k) =>
        Enumerable.Range(0, similarity.Length).Where(j => j != self).OrderByDescending(j => similarity[j]).ThenBy(j => j).Take(k);

    // Pearson's correlation of the ranks, ties sharing their mean rank.
    internal static double SpearmanCorrelation(IReadOnlyList<(double Model, double Reference)> pairs)
    {
        var x = Ranks([.. pairs.Select(p => p.Model)]);
        var y = Ranks([.. pairs.Select(p => p.Reference)]);
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my); }
        return sxx == 0 || syy == 0 ? (sxx == syy ? 1 : 0) : sxy / Math.Sqrt(sxx * syy);
    }

    private static double[] Ranks(double[] values)
    {
        var order = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]]) end++;
            double mean = (start + end) / 2.0 + 1;
            for (int i = start; i <= end; i++) ranks[order[i]] = mean;
            start = end + 1;
        }
        return ranks;
    }
}

/// <summary>The four fidelity figures of a model at one point of a run, as reports print them.</summary>
public sealed record TextFidelity(double CosineMean, double CosineMin,
    [property: System.Text.Json.Serialization.JsonPropertyName("top10_overlap")] double TopKOverlap, double Spearman)
{
    /// <summary>The figures of <paramref name="f"/>.</summary>
    public static TextFidelity Of(Fidelity f) => new(f.CosineMean, f.CosineMin, f.TopKOverlap, f.Spearman);
}

/// <summary>The fidelity figures of an image model's outputs, as reports print them.</summary>
public sealed record ImageFidelity(double CosineMean, double CosineMin,
    [property: System.Text.Json.Serialization.JsonPropertyName("top10_overlap")] double TopKOverlap, double Spearman)
{
    /// <summary>Share of images on which both models' highest class score is the same; null when the outputs are not class scores.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("top1_agreement")]
    public double? Top1Agreement { get; init; }

    /// <summary>‖outputs − reference‖ / ‖reference‖ over all images (<see cref="Fidelity.RelativeError"/>).</summary>
    public double RelativeError { get; init; }
}
