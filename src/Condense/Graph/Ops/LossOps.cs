// Loss operators as ONNX defines them (opset 12; 13 only widened types): NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss over (N, C) or (N, C, d1, …, dk) scores with int32/int64 targets. They run for import and
// evaluation; training uses Condense's own fused cross-entropy, so they carry no gradient.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class LossOps
{
    private static readonly HashSet<int> Targets = [1];
    private static readonly IReadOnlySet<DataType> FloatTypes = new HashSet<DataType> { DataType.Float32, DataType.Float16, DataType.Float64 };

    public static OpDef[] Defs =>
    [
        new(OpTypes.NegativeLogLikelihoodLoss, (n, x, _) => [NegativeLogLikelihood(n, x, logProbabilities: null)], OpGradient.None, OpExport.AsIs)
            { Since = 12, Types = FloatTypes, IntegerInputs = Targets },
        new(OpTypes.SoftmaxCrossEntropyLoss, SoftmaxCrossEntropy, OpGradient.None, OpExport.AsIs)
            { Since = 12, Types = FloatTypes, IntegerInputs = Targets },
    ];

    // log_prob = LogSoftmax(scores) over the class axis (1), then the negative log-likelihood of it.
    private static Tensor[] SoftmaxCrossEntropy(Node node, Tensor?[] inputs, OpContext context)
    {
        var scores = Required(node, inputs, 0);
        if (scores.Rank < 2) throw new CondenseException($"node '{node.Name}' ({node.OpType}): scores must be (N, C, …), got rank {scores.Rank}");
        int classes = scores.Shape[1], batch = scores.Shape[0], inner = scores.Size / Math.Max(1, batch * classes);
        var logProbabilities = new double[scores.Size];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < inner; i++)
            {
                int start = b * classes * inner + i;
                double max = double.NegativeInfinity, sum = 0;
                for (int c = 0; c < classes; c++) max = Math.Max(max, scores.GetDouble(start + c * inner));
                for (int c = 0; c < classes; c++) sum += Math.Exp(scores.GetDouble(start + c * inner) - max);
                double logSum = max + Math.Log(sum);
                for (int c = 0; c < classes; c++) logProbabilities[start + c * inner] = scores.GetDouble(start + c * inner) - logSum;
            }
        var loss = NegativeLogLikelihood(node, inputs, logProbabilities);
        return node.Outputs.Count > 1 ? [loss, Typed(logProbabilities, scores.DataType, scores.Shape)] : [loss];
    }

    // loss[n, …] = −x[n, t, …] · w[t] with t = target[n, …]; 0 (and weight 0) where t = ignore_index.
    // reduction: none keeps (N, …); sum adds; mean divides by the sum of the weights that were used.
    private static Tensor NegativeLogLikelihood(Node node, Tensor?[] inputs, double[]? logProbabilities)
    {
        var x = Required(node, inputs, 0);
        var target = Required(node, inputs, 1);
        var weight = Optional(inputs, 2);
        string where = $"node '{node.Name}' ({node.OpType})";
        if (x.Rank < 2) throw new CondenseException($"{where}: input must be (N, C, …), got rank {x.Rank}");
        if (target.DataType is not (DataType.Int32 or DataType.Int64))
            throw new CondenseException($"{where}: target must be int32 or int64, got {target.DataType.OnnxName()}");
        int batch = x.Shape[0], classes = x.Shape[1], inner = x.Size / Math.Max(1, batch * classes);
        int[] targetShape = [batch, .. x.Shape[2..]];
        if (!target.Shape.SequenceEqual(targetShape))
            throw new CondenseException($"{where}: target shape {Shape.Format(target.Shape)} does not match {Shape.Format(targetShape)}");
        if (weight is not null && (weight.Rank != 1 || weight.Size != classes))
            throw new CondenseException($"{where}: weight must have {classes} values, one per class");
        long ignore = node.Int("ignore_index", long.MinValue);
        var labels = target.Int64Data;
        var losses = new double[labels.Length];
        double weightSum = 0;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < inner; i++)
            {
                int at = b * inner + i;
                long label = labels[at];
                if (label == ignore) continue;
                if (label < 0 || label >= classes) throw new CondenseException($"{where}: target {label} is outside the {classes} classes");
                int source = (b * classes + (int)label) * inner + i;
                double w = weight is null ? 1 : weight.GetDouble((int)label);
                losses[at] = -(logProbabilities is null ? x.GetDouble(source) : logProbabilities[source]) * w;
                weightSum += w;
            }
        string reduction = node.Attributes.TryGetValue("reduction", out var r) ? r.StringValue ?? "mean" : "mean";
        return reduction switch
        {
            "none" => Typed(losses, x.DataType, targetShape),
            "sum" => Typed([losses.Sum()], x.DataType, []),
            // ONNX Runtime and the reference give 0/0 = NaN when every target is ignored; so do we.
            "mean" => Typed([losses.Sum() / weightSum], x.DataType, []),
            _ => throw new CondenseException($"{where}: reduction '{reduction}' is not none, sum or mean"),
        };
    }

    private static Tensor Typed(double[] values, DataType type, int[] shape) => type == DataType.Float64
        ? Tensor.FromDoubles(values, shape)
        : Tensor.FromFloats([.. values.Select(v => (float)v)], type, shape);
}
