// A run that ends far worse than it should must say so rather than exit quietly with a useless model: a
// diverged training run lands at chance level (every image the same class), and a compression step that
// costs more than ten points against the model it started from has most likely gone wrong (a learning rate
// too high for the model, a sparsity beyond what it can take). These are warnings, not errors: the model is
// saved, and the caller prints each line and lists them in its JSON.
using System.Globalization;

namespace Condense.Reports;

/// <summary>Warnings about a saved model's accuracy.</summary>
public static class RunWarnings
{
    /// <summary>An accuracy at most this many times 1/classes counts as chance level.</summary>
    public const double ChanceFactor = 1.5;

    /// <summary>A drop of more than this (as a fraction: 0.10 is ten points) below the baseline is reported.</summary>
    public const double MaxDrop = 0.10;

    /// <summary>
    /// The warnings for a model that scored <paramref name="accuracy"/> on a <paramref name="classes"/>-class task,
    /// compared with <paramref name="baseline"/> (the accuracy it should have come close to, described by
    /// <paramref name="baselineName"/>, e.g. "the model before pruning"); empty when all is well. NaN counts as failed.
    /// </summary>
    public static IReadOnlyList<string> Check(double accuracy, int classes, double? baseline = null, string baselineName = "the baseline")
    {
        var warnings = new List<string>();
        double chance = 1.0 / Math.Max(2, classes);
        if (!(accuracy > ChanceFactor * chance))
        {
            string advice = "the model does no better than a guess (training diverged, or too much was removed)";
            warnings.Add(Invariant($"accuracy {accuracy * 100:F2} % is at chance level ({Math.Max(2, classes)} classes: {chance * 100:F2} %); {advice}"));
        }
        if (baseline is double b && (double.IsNaN(accuracy) || b - accuracy > MaxDrop))
            warnings.Add(Invariant($"accuracy {accuracy * 100:F2} % is {(b - accuracy) * 100:F1} points below {baselineName} ({b * 100:F2} %)"));
        return warnings;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
