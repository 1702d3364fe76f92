// "Did you mean": the closest known name to a mistyped one, by edit distance (Levenshtein, with an
// adjacent swap counting as one edit), or the one name the typed text is a prefix of.
namespace Condense.Cli.CommandLine;

internal static class Suggestions
{
    /// <summary>The known name closest to <paramref name="typed"/>, or null when none is close enough to be a typo.</summary>
    public static string? Closest(string typed, IEnumerable<string> known)
    {
        var names = known.ToList();
        var prefixed = names.Where(n => n.StartsWith(typed, StringComparison.Ordinal)).ToList();
        if (prefixed.Count == 1 && typed.TrimStart('-').Length >= 2) return prefixed[0];
        // Allow about one edit per three characters of the name itself, at least one and at most three.
        int allowed = Math.Clamp(typed.TrimStart('-').Length / 3, 1, 3);
        return names
            .Select(n => (Name: n, Distance: Distance(typed, n)))
            .Where(x => x.Distance <= allowed)
            .OrderBy(x => x.Distance)
            .Select(x => x.Name)
            .FirstOrDefault();
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
