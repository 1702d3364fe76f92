// Batch normalisation layers, as torch.nn.BatchNorm1d/2d (affine, tracking running statistics):
// parameters "weight" (γ, ones) and "bias" (β, zeros), buffers "running_mean" (zeros) and
// "running_var" (ones), named as in PyTorch state dicts (PyTorch's num_batches_tracked counter is not kept:
// it only matters with momentum=None). Training mode normalises with batch statistics and updates the
// running ones; evaluation mode uses the running ones. The op is Tensor.BatchNorm (Tensors/Ops.BatchNorm.cs).
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>The shared part of <see cref="BatchNorm1d"/> and <see cref="BatchNorm2d"/>.</summary>
public abstract class BatchNorm : Module
{
    /// <summary>Creates the layer for <paramref name="numFeatures"/> channels.</summary>
    protected BatchNorm(int numFeatures, float eps, float momentum)
    {
        if (numFeatures <= 0) throw new CondenseException($"batch norm needs a positive number of features, got {numFeatures}");
        if (!(eps > 0f)) throw new CondenseException($"batch norm eps must be positive, got {eps}");
        if (!(momentum >= 0f && momentum <= 1f)) throw new CondenseException($"batch norm momentum must be in [0, 1], got {momentum}");
        Eps = eps;
        Momentum = momentum;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Full(1f, numFeatures)));
        Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(numFeatures)));
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(numFeatures));
        RunningVar = RegisterBuffer("running_var", Tensor.Full(1f, numFeatures));
    }

    /// <summary>γ, (C).</summary>
    public Parameter Weight { get; }

    /// <summary>β, (C).</summary>
    public Parameter Bias { get; }

    /// <summary>The running mean, (C); updated in place in training mode.</summary>
    public Tensor RunningMean { get; }

    /// <summary>The running (unbiased) variance, (C); updated in place in training mode.</summary>
    public Tensor RunningVar { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public float Eps { get; }

    /// <summary>PyTorch's momentum: running = (1 − momentum)·running + momentum·batch.</summary>
    public float Momentum { get; }

    /// <summary>The number of channels.</summary>
    public int NumFeatures => Weight.Size;

    /// <summary>The input ranks the layer accepts.</summary>
    protected abstract int[] Ranks { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        if (!Ranks.Contains(input.Rank) || input.Shape[1] != NumFeatures)
            throw new CondenseException($"{GetType().Name}({NumFeatures}) got input of shape {Shape.Format(input.Shape)}");
        return Tensor.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, Training, Momentum, Eps);
    }
}

/// <summary>Batch norm over (N, C) or (N, C, L) inputs, as torch.nn.BatchNorm1d (e.g. after a Linear).</summary>
public sealed class BatchNorm1d(int numFeatures, float eps = 1e-5f, float momentum = 0.1f) : BatchNorm(numFeatures, eps, momentum)
{
    /// <inheritdoc />
    protected override int[] Ranks => [2, 3];
}

/// <summary>Batch norm over (N, C, H, W) inputs, as torch.nn.BatchNorm2d (e.g. after a Conv2d).</summary>
public sealed class BatchNorm2d(int numFeatures, float eps = 1e-5f, float momentum = 0.1f) : BatchNorm(numFeatures, eps, momentum)
{
    /// <inheritdoc />
    protected override int[] Ranks => [4];
}
