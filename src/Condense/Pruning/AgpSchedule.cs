// Automated gradual pruning (Zhu & Gupta 2017, "To prune, or not to prune"): the target sparsity rises
// from s_i to s_f over n pruning steps Δt apart, fast at first and slowly at the end:
//   s_t = s_f + (s_i − s_f) · (1 − (t − t0) / (n·Δt))³   for t0 ≤ t ≤ t0 + n·Δt.
namespace Condense.Pruning;

/// <summary>The AGP sparsity schedule over optimizer steps.</summary>
public sealed record AgpSchedule(double InitialSparsity, double FinalSparsity, int StartStep, int PruningSteps, int Frequency)
{
    /// <summary>Throws a one-line error for an impossible schedule.</summary>
    public AgpSchedule Validate()
    {
        if (!(InitialSparsity >= 0 && InitialSparsity <= 1 && FinalSparsity >= 0 && FinalSparsity <= 1))
            throw new CondenseException($"AGP sparsities must be in [0, 1], got {InitialSparsity} → {FinalSparsity}");
        if (StartStep < 0 || PruningSteps < 1 || Frequency < 1)
            throw new CondenseException($"AGP needs start ≥ 0, steps ≥ 1 and frequency ≥ 1, got {StartStep}, {PruningSteps}, {Frequency}");
        return this;
    }

    /// <summary>The target sparsity after optimizer step <paramref name="step"/>.</summary>
    public double SparsityAt(int step)
    {
        if (step < StartStep) return InitialSparsity;
        double progress = Math.Min(1.0, (step - StartStep) / (double)(PruningSteps * Frequency));
        return FinalSparsity + (InitialSparsity - FinalSparsity) * Math.Pow(1 - progress, 3);
    }

    /// <summary>True when masks are recomputed after step <paramref name="step"/>: every Δt steps from t0 to t0 + n·Δt.</summary>
    public bool IsPruningStep(int step) =>
        step >= StartStep && step <= StartStep + PruningSteps * Frequency && (step - StartStep) % Frequency == 0;

    /// <summary>
    /// A schedule that prunes <paramref name="pruningSteps"/> times over the first two thirds of
    /// <paramref name="totalSteps"/>, leaving the last third to recover at the final sparsity. A run
    /// shorter than that prunes once per step instead, so the final sparsity is always reached.
    /// </summary>
    public static AgpSchedule Spread(double initial, double final, int totalSteps, int pruningSteps = 10)
    {
        // The trainer counts steps from 1, so the last pruning step t0 + n·Δt must be ≤ the span.
        int span = Math.Max(1, 2 * totalSteps / 3);
        int steps = Math.Min(pruningSteps, span);
        return new AgpSchedule(initial, final, 0, steps, Math.Max(1, span / Math.Max(1, steps))).Validate();
    }
}
