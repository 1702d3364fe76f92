// Reshapes flat samples into images, like PyTorch's nn.Unflatten(1, (C, H, W)): data loaders hand models
// (N × features) batches, convolutional models need (N, C, H, W).
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>(N, ∏shape) → (N, …shape); an input already of that shape passes through unchanged.</summary>
public sealed class Unflatten : Module
{
    /// <summary>Creates the layer for samples of <paramref name="sampleShape"/>, e.g. (1, 28, 28).</summary>
    public Unflatten(params int[] sampleShape)
    {
        if (sampleShape.Length == 0 || sampleShape.Any(d => d <= 0))
            throw new CondenseException($"Unflatten needs positive dimensions, got {Shape.Format(sampleShape)}");
        SampleShape = (int[])sampleShape.Clone();
    }

    /// <summary>The shape of one sample after this layer.</summary>
    public int[] SampleShape { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank == 0 || input.Size != (long)input.Shape[0] * Shape.Size(SampleShape))
            throw new CondenseException($"input of shape {Shape.Format(input.Shape)} cannot be shaped to samples of {Shape.Format(SampleShape)}");
        return input.Shape.AsSpan(1).SequenceEqual(SampleShape) ? input : input.Reshape([input.Shape[0], .. SampleShape]);
    }
}
