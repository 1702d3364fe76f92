// Batch normalisation as one fused op, after torch.nn.functional.batch_norm: channel 1 of an (N, C, …)
// or (N, C) input is normalised by the batch statistics (training) or the running ones (evaluation),
// then scaled by γ and shifted by β. Both modes are a per-channel affine y = x·scale + shift; training
// also differentiates through the batch mean and variance (Kernels/Normalization/BatchNormKernels.cs has the formulas).
using Condense.Kernels.Normalization;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// Batch normalisation of an (N, C, …) or (N, C) input over every dimension but C.
    /// Training: normalises with the batch mean and biased variance and, when running statistics are
    /// given, updates them in place as PyTorch does: running = (1 − momentum)·running + momentum·batch,
    /// the variance with the unbiased batch variance (divided by M − 1, M = N·spatial). Evaluation
    /// (<paramref name="training"/> false): normalises with the running statistics, which are required.
    /// <paramref name="weight"/> (γ) and <paramref name="bias"/> (β) are optional (C) tensors; gradients
    /// flow to the input, γ and β in both modes (never to the running statistics).
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        var (n, c, s) = input.ChannelLayout();
        foreach (var (t, name) in new[] { (runningMean, "running mean"), (runningVar, "running variance"), (weight, "weight"), (bias, "bias") })
            if (t is not null && t.Size != c)
                throw new CondenseException($"batch norm over {c} channels got a {name} of shape {Tensors.Shape.Format(t.Shape)}");
        if (!training && (runningMean is null || runningVar is null))
            throw new CondenseException("batch norm in evaluation mode needs running statistics");

        var mean = new float[c];
        var variance = new float[c];
        if (training)
        {
            if ((long)n * s < 2)
                throw new CondenseException(
                    $"batch norm in training mode needs more than one value per channel, got input shape {Tensors.Shape.Format(input.Shape)}");
            BatchNormKernels.Statistics(input.Data, n, c, s, mean, variance);
            if (runningMean is not null && runningVar is not null) UpdateRunning(runningMean, runningVar, mean, variance, (long)n * s, momentum);
        }
        else
        {
            runningMean!.Data.CopyTo(mean, 0);
            runningVar!.Data.CopyTo(variance, 0);
        }

        var (invStd, scale, shift) = NormAffine(mean, variance, weight, bias, eps);
        var y = Uninitialized(input.Shape);
        BatchNormKernels.Affine(input.Data, y.Data, n, c, s, scale, shift);

        var parents = new[] { input, weight, bias }.OfType<Tensor>().ToArray();
        return Record(y, g =>
        {
            var sumG = new float[c];
            var sumGCentered = new float[c];
            BatchNormKernels.GradientSums(g.Data, input.Data, n, c, s, mean, sumG, sumGCentered);
            if (input.RequiresGrad)
            {
                var gx = GC.AllocateUninitializedArray<float>(input.Size);
                if (training)
                    BatchNormKernels.TrainingInputGradient(g.Data, input.Data, gx, n, c, s, mean, invStd, weight?.Data, sumG, sumGCentered);
                else BatchNormKernels.Affine(g.Data, gx, n, c, s, scale, new float[c]); // a fixed affine: ∂y/∂x = scale
                input.AccumulateGrad(gx);
            }
            // ∂L/∂γ = Σ gy·x̂ = Σ gy·(x − μ)/σ, ∂L/∂β = Σ gy, in both modes (μ, σ from the batch or the running statistics).
            weight?.AccumulateGrad(sumGCentered.Select((v, ch) => v * invStd[ch]).ToArray());
            bias?.AccumulateGrad(sumG);
        }, parents);
    }

    // PyTorch's update (torch.nn.BatchNorm2d docs): the running variance tracks the unbiased estimate.
    private static void UpdateRunning(Tensor runningMean, Tensor runningVar, float[] mean, float[] variance, long count, float momentum)
    {
        float unbias = (float)count / (count - 1);
        for (int ch = 0; ch < mean.Length; ch++)
        {
            runningMean.Data[ch] = (1f - momentum) * runningMean.Data[ch] + momentum * mean[ch];
            runningVar.Data[ch] = (1f - momentum) * runningVar.Data[ch] + momentum * variance[ch] * unbias;
        }
        runningMean.MarkModified();
        runningVar.MarkModified();
    }

    /// <summary>
    /// An inference batch norm with running statistics and the Relu after it, in one pass (no gradient): the bits of
    /// <see cref="BatchNorm"/> in evaluation followed by <see cref="Relu"/>.
    /// </summary>
    internal static Tensor BatchNormRelu(Tensor input, Tensor runningMean, Tensor runningVar, Tensor? weight, Tensor? bias, float eps)
    {
        var (n, c, s) = input.ChannelLayout();
        if (runningMean.Size != c || runningVar.Size != c || weight is { } w && w.Size != c || bias is { } b && b.Size != c)
            throw new CondenseException($"batch norm over {c} channels got statistics or parameters of another size");
        var (_, scale, shift) = NormAffine(runningMean.Data, runningVar.Data, weight, bias, eps);
        var y = Uninitialized(input.Shape);
        BatchNormKernels.Affine(input.Data, y.Data, n, c, s, scale, shift, relu: true);
        return y;
    }

    /// <summary>
    /// Per channel of an inference batch norm: 1/√(σ² + ε), scale = γ/√(σ² + ε) and shift = β − μ·scale, the affine y = x·scale +
    /// shift every path computes (the integer engine's norms of codes too).
    /// </summary>
    internal static (float[] InvStd, float[] Scale, float[] Shift) NormAffine(ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, Tensor? weight,
        Tensor? bias, float eps)
    {
        int c = mean.Length;
        var (invStd, scale, shift) = (new float[c], new float[c], new float[c]);
        for (int ch = 0; ch < c; ch++)
        {
            invStd[ch] = 1f / MathF.Sqrt(variance[ch] + eps);
            float gamma = weight?.Data[ch] ?? 1f, beta = bias?.Data[ch] ?? 0f;
            scale[ch] = gamma * invStd[ch];
            shift[ch] = beta - mean[ch] * scale[ch];
        }
        return (invStd, scale, shift);
    }

    // (N, C, S): the batch, the channels, and the product of the remaining dimensions (1 for (N, C)).
    private (int N, int C, int S) ChannelLayout()
    {
        if (Rank < 2) throw new CondenseException($"batch norm needs an (N, C, …) input, got shape {Tensors.Shape.Format(Shape)}");
        return (Shape[0], Shape[1], Shape[0] * Shape[1] == 0 ? 0 : Size / (Shape[0] * Shape[1]));
    }
}
