// Learning-rate schedules, stepped once per epoch as in PyTorch:
// StepLR: lr = lr0 · γ^⌊epoch/stepSize⌋; cosine (Loshchilov & Hutter 2017): lr = ηmin + (lr0 − ηmin)(1 + cos(π·epoch/T))/2.
namespace Condense.Optim;

/// <summary>Sets an optimizer's learning rate as a function of the epoch.</summary>
public abstract class LrScheduler
{
    /// <summary>Attaches to <paramref name="optimizer"/>.</summary>
    protected LrScheduler(Optimizer optimizer) => Optimizer = optimizer;

    /// <summary>The optimizer whose learning rate is set.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Epochs completed.</summary>
    public int Epoch { get; private set; }

    /// <summary>Call after each epoch: advances the schedule and sets the new learning rate.</summary>
    public void Step()
    {
        Epoch++;
        Optimizer.LearningRate = RateAt(Epoch);
    }

    /// <summary>The learning rate for <paramref name="epoch"/>.</summary>
    public abstract float RateAt(int epoch);
}

/// <summary>Multiplies the rate by <c>gamma</c> every <c>stepSize</c> epochs.</summary>
public sealed class StepLR(Optimizer optimizer, int stepSize, float gamma = 0.1f) : LrScheduler(optimizer)
{
    private readonly int _stepSize = stepSize > 0 ? stepSize : throw new CondenseException($"step size must be positive, got {stepSize}");

    /// <inheritdoc />
    public override float RateAt(int epoch) => Optimizer.InitialLearningRate * MathF.Pow(gamma, epoch / _stepSize);
}

/// <summary>Cosine annealing from the initial rate to <c>minRate</c> over <c>totalEpochs</c>.</summary>
/// <remarks>After <c>totalEpochs</c> the rate stays at <c>minRate</c> (PyTorch's closed form would rise again).</remarks>
public sealed class CosineAnnealingLR(Optimizer optimizer, int totalEpochs, float minRate = 0f) : LrScheduler(optimizer)
{
    private readonly int _total = totalEpochs >= 0 ? totalEpochs : throw new CondenseException($"total epochs must not be negative, got {totalEpochs}");

    /// <inheritdoc />
    public override float RateAt(int epoch)
    {
        float t = Math.Min(epoch, _total) / (float)Math.Max(1, _total);
        return minRate + (Optimizer.InitialLearningRate - minRate) * (1f + MathF.Cos(MathF.PI * t)) / 2f;
    }
}
