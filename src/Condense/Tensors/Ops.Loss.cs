// Cross-entropy from logits as one fused, numerically stable op:
// loss = mean_i [ logsumexp(z_i) − z_i[y_i] ], gradient (softmax(z_i) − onehot(y_i)) / N.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Mean cross-entropy of logits (N × C) against integer class labels.</summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> labels)
    {
        if (logits.Rank != 2) throw new CondenseException($"cross-entropy needs logits of shape (N, C), got {Tensors.Shape.Format(logits.Shape)}");
        int n = logits.Shape[0], c = logits.Shape[1];
        if (labels.Length != n) throw new CondenseException($"{n} logits rows but {labels.Length} labels");
        var probabilities = GC.AllocateUninitializedArray<float>(logits.Size);
        double total = 0;
        var target = labels.ToArray();
        for (int i = 0; i < n; i++)
        {
            int y = target[i];
            if ((uint)y >= (uint)c) throw new CondenseException($"label {y} out of range for {c} classes");
            var row = logits.Data.AsSpan(i * c, c);
            float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
            double sum = 0;
            for (int j = 0; j < c; j++) { float e = MathF.Exp(row[j] - max); probabilities[i * c + j] = e; sum += e; }
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < c; j++) probabilities[i * c + j] *= inv;
            total += Math.Log(sum) + max - row[y];
        }
        var loss = Scalar((float)(total / n));
        return Record(loss, g =>
        {
            float scale = g.Data[0] / n;
            var gx = probabilities;
            for (int i = 0; i < n; i++) gx[i * c + target[i]] -= 1f;
            System.Numerics.Tensors.TensorPrimitives.Multiply(gx, scale, gx);
            logits.AccumulateGrad(gx);
        }, logits);
    }
}
