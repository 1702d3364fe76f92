// RMSNormalization (ONNX opset 23; Zhang & Sennrich 2019, the norm of Llama, T5 and Gemma): y = x / √(mean(x²) + ε) · scale,
// the mean over the axes from `axis` (default −1) to the last. Float32 is built from autograd tensor ops, so it trains;
// float16, bfloat16 and float64 run the formula in double, rounded once to their type. Axis, epsilon and stash_type are
// read as LayerNormalization reads them.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    /// <summary>RMSNormalization(X, scale) with attributes axis, epsilon (1e-5) and stash_type.</summary>
    internal static Tensor RmsNormalization(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var scale = Required(node, inputs, 1);
        var (axes, epsilon) = NormalizedAxes(node, x);
        CheckBroadcastsTo(node, x, scale, "scale");
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
