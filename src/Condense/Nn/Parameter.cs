// A trainable tensor: a Tensor that requires a gradient and that optimizers update in place.
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>A tensor registered on a module as trainable.</summary>
public sealed class Parameter : Tensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as a trainable tensor of the given shape.</summary>
    public Parameter(float[] data, params int[] shape) : base(data, shape) => RequiresGrad = true;

    /// <summary>Makes a parameter from a tensor's data (shared, not copied).</summary>
    public Parameter(Tensor value) : this(value.Data, value.Shape) { }
}
