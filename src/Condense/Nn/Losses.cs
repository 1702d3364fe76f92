// Loss functions. Cross-entropy is a fused autograd primitive (stable log-sum-exp); MSE and the
// temperature-scaled KL divergence of distillation (Hinton et al. 2015) are compositions of ops.
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>Losses returning scalar tensors that can be back-propagated.</summary>
public static class Losses
{
    /// <summary>Mean cross-entropy of logits (N × C) against integer labels.</summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> labels) => Tensor.CrossEntropy(logits, labels);

    /// <summary>Mean squared error.</summary>
    public static Tensor Mse(Tensor prediction, Tensor target)
    {
        if (!Shape.Equal(prediction.Shape, target.Shape))
            throw new CondenseException($"MSE needs equal shapes, got {Shape.Format(prediction.Shape)} and {Shape.Format(target.Shape)}");
        var diff = prediction - target;
        return (diff * diff).Mean();
    }

    /// <summary>
    /// T² · KL(softmax(t/T) ‖ softmax(s/T)), averaged over the batch: the soft-target term of
    /// knowledge distillation. The T² keeps its gradient scale independent of T (Hinton et al. 2015).
    /// </summary>
    public static Tensor KlDivergence(Tensor studentLogits, Tensor teacherLogits, float temperature = 1f)
    {
        if (!(temperature > 0f)) throw new CondenseException($"temperature must be positive, got {temperature}");
        if (!Shape.Equal(studentLogits.Shape, teacherLogits.Shape) || studentLogits.Rank != 2)
            throw new CondenseException(
                $"KL divergence needs equal (N, C) shapes, got {Shape.Format(studentLogits.Shape)} and {Shape.Format(teacherLogits.Shape)}");
        Tensor teacherLogP;
        using (Autograd.GradMode.NoGrad()) teacherLogP = teacherLogits.Detach().Mul(1f / temperature).LogSoftmax();
        var teacherP = teacherLogP.Exp();
        var studentLogP = studentLogits.Mul(1f / temperature).LogSoftmax();
        int n = studentLogits.Shape[0];
        return (teacherP * (teacherLogP - studentLogP)).Sum().Mul(temperature * temperature / n);
    }
}
