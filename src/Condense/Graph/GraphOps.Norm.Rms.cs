// RMSNormalization (ONNX opset 23; Zhang & Sennrich 2019, the norm of Llama, T5 and Gemma): y = x / √(mean(x²) + ε) · scale,
// the mean over the axes from `axis` (default −1) to the last. Float32 is built from autograd tensor ops, so it trains;
// float16, bfloat16 and float64 run the formula in double, rounded once to their type. stash_type 1 (float) is the only
// one ONNX Runtime implements, as for LayerNormalization.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    /// <summary>RMSNormalization(X, scale) with attributes axis, epsilon (1e-5) and stash_type.</summary>
    internal static Tensor RmsNormalization(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var scale = Required(node, inputs, 1);
        long axisAttribute = node.Int("axis", -1);
        int axis = (int)(axisAttribute < 0 ? axisAttribute + x.Rank : axisAttribute);
        if (axis < 0 || axis >= x.Rank)
            throw new CondenseException($"{NormWhere(node)}: axis {axisAttribute} is out of range for X of rank {x.Rank}");
        long stash = node.Int("stash_type", 1);
        if (stash != 1) throw new CondenseException($"{NormWhere(node)}: stash_type {stash} is not supported (only 1, float)");
        CheckBroadcastsTo(node, x, scale, "scale");
        float epsilon = node.Float("epsilon", 1e-5f);
        int[] axes = [.. Enumerable.Range(axis, x.Rank - axis)];
        if (x.DataType != DataType.Float32) return RmsNormalizationTyped(x, scale, axes, epsilon);
        var meanSquare = x.Mul(x);
        foreach (int a in axes) meanSquare = meanSquare.Mean(a, keepDim: true);
        return x.Mul(meanSquare.Add(epsilon).Pow(-0.5f)).Mul(scale);
    }

    private static Tensor RmsNormalizationTyped(Tensor x, Tensor scale, int[] axes, float epsilon)
    {
        int[] groupShape = [.. x.Shape.Select((d, i) => axes.Contains(i) ? 1 : d)];
        var group = BroadcastIndex.Map(groupShape, x.Shape) ?? [.. Enumerable.Range(0, x.Size)];
        var (sum, count) = (new double[Shape.Size(groupShape)], new int[Shape.Size(groupShape)]);
        for (int i = 0; i < x.Size; i++) { double v = x.GetDouble(i); sum[group[i]] += v * v; count[group[i]]++; }
        var scaleAt = BroadcastIndex.Map(scale.Shape, x.Shape);
        var y = new double[x.Size];
        for (int i = 0; i < y.Length; i++)
            y[i] = x.GetDouble(i) / Math.Sqrt(sum[group[i]] / count[group[i]] + epsilon) * scale.GetDouble(scaleAt?[i] ?? i);
        return NormResult(y, x.DataType, x.Shape);
    }
}
