// The optimizer base: holds the parameters and the learning rate; subclasses implement one update.
// Parameters without a gradient (unused in this step) are skipped, as in PyTorch.
using Condense.Nn;

namespace Condense.Optim;

/// <summary>Updates parameters in place from their gradients.</summary>
public abstract class Optimizer
{
    /// <summary>Creates the optimizer over <paramref name="parameters"/>.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        if (!(learningRate > 0f) || !float.IsFinite(learningRate)) throw new CondenseException($"learning rate must be positive, got {learningRate}");
        Params = parameters.ToList();
        LearningRate = learningRate;
        InitialLearningRate = learningRate;
    }

    /// <summary>The parameters updated.</summary>
    public IReadOnlyList<Parameter> Params { get; }

    /// <summary>The current learning rate (schedulers change it).</summary>
    public float LearningRate { get; set; }

    /// <summary>The learning rate given at construction.</summary>
    public float InitialLearningRate { get; }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        for (int i = 0; i < Params.Count; i++)
            if (Params[i].Grad is { } grad)
            {
                if (grad.Size != Params[i].Size)
                    throw new InvalidOperationException($"parameter {i} has {Params[i].Size} elements but its gradient {grad.Size}");
                Update(i, Params[i].Data, grad.Data);
            }
    }

    /// <summary>Clears the gradients.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Params) p.ClearGrad();
    }

    /// <summary>Updates parameter <paramref name="index"/>'s <paramref name="weights"/> from <paramref name="grad"/>.</summary>
    protected abstract void Update(int index, Span<float> weights, ReadOnlySpan<float> grad);

    /// <summary>The named state buffers of parameter <paramref name="index"/> (momentum, moments), for masking and inspection.</summary>
    public abstract IEnumerable<float[]> State(int index);
}
