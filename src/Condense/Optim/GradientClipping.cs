// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2):
// n = √(Σ over all parameters' gradients of g²); c = maxNorm / (n + 1e-6); if c < 1 every gradient is multiplied by c.
// One norm over all parameters (not one per tensor) keeps the update's direction: it only shortens the step.
using System.Numerics.Tensors;
using Condense.Nn;

namespace Condense.Optim;

/// <summary>Rescales gradients so their combined L2 norm does not exceed a limit.</summary>
public static class GradientClipping
{
    // torch's clip_grad_norm_ adds this to the norm before dividing.
    private const double Epsilon = 1e-6;

    // The sum of squares runs in float over slices this long, added up in double, so a large tensor keeps its precision.
    private const int SliceLength = 4096;

    /// <summary>
    /// Scales every gradient of <paramref name="parameters"/> by <c>maxNorm / (norm + 1e-6)</c> when that is below 1,
    /// where <c>norm</c> is the L2 norm of all their gradients taken together. Parameters without a gradient are skipped.
    /// </summary>
    /// <param name="parameters">The parameters whose <see cref="Tensors.Tensor.Grad"/> is clipped in place.</param>
    /// <param name="maxNorm">The largest total norm kept; positive.</param>
    /// <returns>The total norm before clipping (for logging). When it is not finite the gradients are left as they are,
    /// so the caller can skip the step, where torch would turn them into NaN.</returns>
    public static float ClipGlobalNorm(IEnumerable<Parameter> parameters, float maxNorm)
    {
        if (!(maxNorm > 0f) || !float.IsFinite(maxNorm)) throw new CondenseException($"maximum gradient norm must be positive, got {maxNorm}");
        var grads = parameters.Select(p => p.Grad).OfType<Tensors.Tensor>().ToList();
        double sumOfSquares = 0;
        foreach (var grad in grads)
        {
            var data = grad.Data.AsSpan(0, grad.Size);
            for (int start = 0; start < data.Length; start += SliceLength)
                sumOfSquares += TensorPrimitives.SumOfSquares(data.Slice(start, Math.Min(SliceLength, data.Length - start)));
        }
        double norm = Math.Sqrt(sumOfSquares);
        double scale = maxNorm / (norm + Epsilon);
        if (double.IsFinite(norm) && scale < 1.0)
            foreach (var grad in grads)
            {
                var data = grad.Data.AsSpan(0, grad.Size);
                TensorPrimitives.Multiply(data, (float)scale, data);
                grad.MarkModified();
            }
        return (float)norm;
    }
}
