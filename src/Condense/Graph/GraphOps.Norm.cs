// The normalization ops as ONNX defines them (Operators.md: LayerNormalization-17, MeanVarianceNormalization-9/13,
// InstanceNormalization-6, LRN-1/13). Float32 is built from autograd tensor ops — the moments over the normalized
// axes are Means kept as size 1 — so every input's gradient comes from their backward passes. The other float types
// run the same formulas in double (GraphOps.Norm.Typed.cs). At inference (no gradient wanted), LayerNormalization
// over the last axis with per-feature Scale and B — a transformer's — runs the row kernel (Kernels/Transformer/LayerNormRows).
using Condense.Autograd;
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // MeanVarianceNormalization's function body adds 1e-9 to the standard deviation (not to the variance).
    private const double MvnEpsilon = 1e-9;

    /// <summary>
    /// LayerNormalization: Y = (X − mean)·InvStdDev·Scale + B, the moments over the axes from <c>axis</c> (default −1) on,
    /// InvStdDev = 1/√(var + epsilon); outputs Y and, optionally, Mean and InvStdDev (float32, the normalized axes kept as 1).
    /// </summary>
    internal static Tensor[] LayerNormalization(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var scale = Required(node, inputs, 1);
        var bias = Optional(inputs, 2);
        var (axes, epsilon) = NormalizedAxes(node, x);
        int axis = axes[0];
        CheckBroadcastsTo(node, x, scale, "Scale");
        if (bias is not null) CheckBroadcastsTo(node, x, bias, "B");
        if (x.DataType != DataType.Float32) return LayerNormalizationTyped(x, scale, bias, axes, epsilon);
        if (node.Outputs.Count == 1 && LastAxisInference(x, scale, bias, axis, epsilon) is { } fast) return [fast];
        var (mean, centered, variance) = Moments(x, axes);
        var invStdDev = variance.Add(epsilon).Pow(-0.5f);
        var y = centered.Mul(invStdDev).Mul(scale);
        return [bias is null ? y : y.Add(bias), mean, invStdDev];
    }

    // The axes from the node's `axis` (default −1) to the last, and its epsilon (default 1e-5), as LayerNormalization and
    // RMSNormalization read them. stash_type is the type of the statistics and of the first stage's arithmetic; ONNX Runtime
    // implements float (1) only.
    private static (int[] Axes, float Epsilon) NormalizedAxes(Node node, Tensor x)
    {
        long axisAttribute = node.Int("axis", -1);
        int axis = (int)(axisAttribute < 0 ? axisAttribute + x.Rank : axisAttribute);
        if (axis < 0 || axis >= x.Rank)
            throw new CondenseException($"{NormWhere(node)}: axis {axisAttribute} is out of range for X of rank {x.Rank}");
        long stash = node.Int("stash_type", 1);
        if (stash != 1) throw new CondenseException($"{NormWhere(node)}: stash_type {stash} is not supported (only 1, float)");
        return ([.. Enumerable.Range(axis, x.Rank - axis)], node.Float("epsilon", 1e-5f));
    }

    // Inference over the last axis with per-feature Scale and B (a transformer's layer norm): the row kernel, no
    // autograd record; null when a gradient is wanted or the shapes are of another form.
    private static Tensor? LastAxisInference(Tensor x, Tensor scale, Tensor? bias, int axis, float epsilon)
    {
        if (GradMode.Enabled && (x.RequiresGrad || scale.RequiresGrad || bias is { RequiresGrad: true })) return null;
        int width = x.Shape[^1];
        if (axis != x.Rank - 1 || width == 0 || scale.Rank != 1 || scale.Size != width || bias is not null && (bias.Rank != 1 || bias.Size != width))
            return null;
        var y = Tensor.Uninitialized(x.Shape);
        Kernels.Transformer.LayerNormRows.Forward(x.Data, y.Data, x.Size / width, scale.Data, bias?.Data, epsilon);
        return y;
    }

    /// <summary>MeanVarianceNormalization: (X − mean)/(√var + 1e-9), the moments over <c>axes</c> (default 0, 2, 3).</summary>
    internal static Tensor MeanVarianceNormalization(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var axes = NormAxes(node, x, Ints(node, "axes") ?? [0, 2, 3]);
        if (x.DataType != DataType.Float32) return MeanVarianceNormalizationTyped(x, axes);
        var (_, centered, variance) = Moments(x, axes);
        return centered.Div(variance.Sqrt().Add((float)MvnEpsilon));
    }

    /// <summary>
    /// InstanceNormalization: X (N, C, D1, …) normalized per sample and channel over D1, …:
    /// scale[c]·(X − mean)/√(var + epsilon) + B[c].
    /// </summary>
    internal static Tensor InstanceNormalization(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var scale = Required(node, inputs, 1);
        var bias = Required(node, inputs, 2);
        if (x.Rank < 2) throw new CondenseException($"{NormWhere(node)}: X must be (N, C, D1, …), got shape {Shape.Format(x.Shape)}");
        int channels = x.Shape[1];
        foreach (var (t, name) in new[] { (scale, "scale"), (bias, "B") })
        {
            TypedOps.CheckSameType(node.OpType, x, t);
            if (t.Rank != 1 || t.Size != channels)
                throw new CondenseException($"{NormWhere(node)}: {name} must have shape [{channels}] (one per channel), got {Shape.Format(t.Shape)}");
        }
        float epsilon = node.Float("epsilon", 1e-5f);
        int[] axes = [.. Enumerable.Range(2, x.Rank - 2)];
        if (x.DataType != DataType.Float32) return InstanceNormalizationTyped(x, scale, bias, axes, epsilon);
        var (_, centered, variance) = Moments(x, axes);
        int[] perChannel = [channels, .. Enumerable.Repeat(1, x.Rank - 2)];
        return centered.Mul(variance.Add(epsilon).Pow(-0.5f)).Mul(scale.Reshape(perChannel)).Add(bias.Reshape(perChannel));
    }

    /// <summary>
    /// LRN over X (N, C, …): Y = X/(bias + alpha/size·square_sum)^beta, square_sum at channel c the sum of X² over
    /// channels c − ⌊(size − 1)/2⌋ … c + ⌈(size − 1)/2⌉ that exist.
    /// </summary>
    internal static Tensor Lrn(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        if (!node.Attributes.ContainsKey("size")) throw new CondenseException($"{NormWhere(node)}: the attribute size is required");
        long size = node.Int("size", 0);
        if (size <= 0) throw new CondenseException($"{NormWhere(node)}: size {size} must be positive");
        if (x.Rank < 2) throw new CondenseException($"{NormWhere(node)}: X must be (N, C, …), got shape {Shape.Format(x.Shape)}");
        float alpha = node.Float("alpha", 1e-4f), beta = node.Float("beta", 0.75f), bias = node.Float("bias", 1f);
        int before = (int)((size - 1) / 2), after = (int)(size - 1 - before);
        if (x.DataType != DataType.Float32) return LrnTyped(x, before, after, alpha / size, beta, bias);
        // A (C, C) band matrix of ones over each channel's window times X² (N, C, rest) sums the squares across channels.
        int channels = x.Shape[1], batch = x.Shape[0], rest = x.Size / Math.Max(1, batch * channels);
        var band = new float[channels * channels];
        for (int c = 0; c < channels; c++)
            for (int i = Math.Max(0, c - before); i <= Math.Min(channels - 1, c + after); i++) band[c * channels + i] = 1f;
        var squareSums = new Tensor(band, channels, channels).MatMul(x.Mul(x).Reshape(batch, channels, rest)).Reshape(x.Shape);
        return x.Div(squareSums.Mul(alpha / size).Add(bias).Pow(beta));
    }

    // The mean over axes (kept as size 1), X − mean, and the biased variance: the first stage of every normalization.
    private static (Tensor Mean, Tensor Centered, Tensor Variance) Moments(Tensor x, int[] axes)
    {
        var mean = x;
        foreach (int axis in axes) mean = mean.Mean(axis, keepDim: true);
        var centered = x.Sub(mean);
        var variance = centered.Mul(centered);
        foreach (int axis in axes) variance = variance.Mean(axis, keepDim: true);
        return (mean, centered, variance);
    }

    // Axes in [−rank, rank), made non-negative; repeated axes are refused (they name one axis twice).
    private static int[] NormAxes(Node node, Tensor x, long[] axes)
    {
        var result = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            long a = axes[i] < 0 ? axes[i] + x.Rank : axes[i];
            if (a < 0 || a >= x.Rank) throw new CondenseException($"{NormWhere(node)}: axis {axes[i]} is out of range for X of shape {Shape.Format(x.Shape)}");
            result[i] = (int)a;
        }
        if (result.Distinct().Count() != result.Length) throw new CondenseException($"{NormWhere(node)}: axes [{string.Join(", ", axes)}] repeat an axis");
        return result;
    }

    // Scale and B broadcast to X one way (the ONNX "unidirectional broadcasting"): Y keeps X's shape.
    private static void CheckBroadcastsTo(Node node, Tensor x, Tensor t, string name)
    {
        TypedOps.CheckSameType(node.OpType, x, t);
        bool fits = t.Rank <= x.Rank && t.Shape.Select((d, i) => d == 1 || d == x.Shape[x.Rank - t.Rank + i]).All(f => f);
        if (!fits) throw new CondenseException($"{NormWhere(node)}: {name} of shape {Shape.Format(t.Shape)} does not broadcast to X's {Shape.Format(x.Shape)}");
    }

    private static string NormWhere(Node node) => $"node '{node.Name}' ({node.OpType})";
}
