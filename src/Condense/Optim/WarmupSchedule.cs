// A learning-rate schedule stepped once per optimizer step (not per epoch), as used to fine-tune transformers.
// It follows Hugging Face transformers' optimization.py closed forms, with lr0 the optimizer's initial rate,
// w the warm-up steps, T the total steps and s the step:
//   warm-up (all kinds, s < w):  lr = lr0 · s / w                                    (get_*_schedule_with_warmup)
//   Linear:   lr = floor + (lr0 − floor) · (T − s) / (T − w)                          (get_linear_schedule_with_warmup;
//             with a floor, get_polynomial_decay_schedule_with_warmup at power 1)
//   Cosine:   lr = floor + (lr0 − floor) · (1 + cos(π · (s − w) / (T − w))) / 2     (get_cosine_schedule_with_warmup,
//             num_cycles = 0.5; with a floor, get_cosine_with_min_lr_schedule_with_warmup)
//   Constant: lr = lr0                                                                 (get_constant_schedule_with_warmup)
// After T steps Linear and Cosine stay at the floor (HF's cosine would rise again; its linear clamps at 0 likewise).
namespace Condense.Optim;

/// <summary>How <see cref="WarmupSchedule"/> moves the rate after the warm-up.</summary>
public enum DecayKind
{
    /// <summary>Straight line from the initial rate to the floor at the last step.</summary>
    Linear,
    /// <summary>Half a cosine from the initial rate to the floor at the last step.</summary>
    Cosine,
    /// <summary>The initial rate, unchanged.</summary>
    Constant,
}

/// <summary>
/// Linear warm-up from 0 to the optimizer's initial learning rate over <c>warmupSteps</c>, then a
/// <see cref="DecayKind"/> to <c>minRate</c> at <c>totalSteps</c>. Call <see cref="Step"/> after each optimizer step.
/// </summary>
/// <remarks>
/// As PyTorch's LambdaLR under Hugging Face's schedules, construction sets the rate for step 0, which is 0 when
/// there is a warm-up: the first optimizer step then changes nothing (Adam still counts it in its moments).
/// </remarks>
public sealed class WarmupSchedule
{
    private readonly int _warmupSteps, _totalSteps;
    private readonly DecayKind _decay;
    private readonly float _minRate;

    /// <summary>Attaches to <paramref name="optimizer"/> and sets its rate for step 0.</summary>
    /// <param name="optimizer">The optimizer whose <see cref="Optimizer.LearningRate"/> is set; its initial rate is the peak.</param>
    /// <param name="warmupSteps">Steps of linear warm-up from 0 (0 for none).</param>
    /// <param name="totalSteps">The step at which Linear and Cosine reach <paramref name="minRate"/>; at least <paramref name="warmupSteps"/>.</param>
    /// <param name="decay">The shape after the warm-up.</param>
    /// <param name="minRate">The floor that Linear and Cosine decay to (0 as in Hugging Face's defaults).</param>
    public WarmupSchedule(Optimizer optimizer, int warmupSteps, int totalSteps, DecayKind decay = DecayKind.Linear, float minRate = 0f)
    {
        if (warmupSteps < 0) throw new CondenseException($"warm-up steps must not be negative, got {warmupSteps}");
        if (totalSteps < warmupSteps) throw new CondenseException($"total steps ({totalSteps}) must be at least the warm-up steps ({warmupSteps})");
        if (!Enum.IsDefined(decay)) throw new CondenseException($"unknown decay kind {decay}");
        if (!(minRate >= 0f) || minRate > optimizer.InitialLearningRate)
            throw new CondenseException($"minimum rate must be in [0, {optimizer.InitialLearningRate}], got {minRate}");
        Optimizer = optimizer;
        _warmupSteps = warmupSteps; _totalSteps = totalSteps; _decay = decay; _minRate = minRate;
        optimizer.LearningRate = RateAt(0);
    }

    /// <summary>The optimizer whose learning rate is set.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Optimizer steps completed (calls to <see cref="Step"/>).</summary>
    public int StepCount { get; private set; }

    /// <summary>Call after each optimizer step: advances the schedule and sets the rate for the next step.</summary>
    public void Step()
    {
        StepCount++;
        Optimizer.LearningRate = RateAt(StepCount);
    }

    /// <summary>The learning rate for the optimizer step that follows <paramref name="step"/> completed steps.</summary>
    public float RateAt(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        double peak = Optimizer.InitialLearningRate;
        // Math.Max(1, …) as HF: a zero-length phase divides by 1 instead of 0.
        if (step < _warmupSteps) return (float)(peak * step / Math.Max(1, _warmupSteps));
        if (_decay == DecayKind.Constant) return (float)peak;
        double progress = Math.Min(1.0, (step - _warmupSteps) / (double)Math.Max(1, _totalSteps - _warmupSteps));
        double factor = _decay == DecayKind.Linear ? 1.0 - progress : (1.0 + Math.Cos(Math.PI * progress)) / 2.0;
        return (float)(_minRate + (peak - _minRate) * factor);
    }
}
