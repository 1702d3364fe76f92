// The normalization ops for float16, bfloat16 and float64: the formulas of GraphOps.Norm.cs in double, rounded once
// to the element type (ONNX Runtime computes its float16 kernels in float32 and rounds once too). No gradients:
// float32 is the training type. Mean and InvStdDev of LayerNormalization are float32 (stash_type 1) for every type.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    private static Tensor[] LayerNormalizationTyped(Tensor x, Tensor scale, Tensor? bias, int[] axes, float epsilon)
    {
        var (mean, variance, group, groupShape) = TypedMoments(x, axes);
        var invStdDev = Array.ConvertAll(variance, v => 1 / Math.Sqrt(v + epsilon));
        var scaleAt = BroadcastIndex.Map(scale.Shape, x.Shape);
        var biasAt = bias is null ? null : BroadcastIndex.Map(bias.Shape, x.Shape);
        var y = new double[x.Size];
        for (int i = 0; i < y.Length; i++)
        {
            int g = group[i];
            y[i] = (x.GetDouble(i) - mean[g]) * invStdDev[g] * scale.GetDouble(scaleAt?[i] ?? i) + (bias?.GetDouble(biasAt?[i] ?? i) ?? 0);
        }
        return [NormResult(y, x.DataType, x.Shape), NormResult(mean, DataType.Float32, groupShape), NormResult(invStdDev, DataType.Float32, groupShape)];
    }

    private static Tensor MeanVarianceNormalizationTyped(Tensor x, int[] axes)
    {
        var (mean, variance, group, _) = TypedMoments(x, axes);
        var y = new double[x.Size];
        for (int i = 0; i < y.Length; i++) y[i] = (x.GetDouble(i) - mean[group[i]]) / (Math.Sqrt(variance[group[i]]) + MvnEpsilon);
        return NormResult(y, x.DataType, x.Shape);
    }

    private static Tensor InstanceNormalizationTyped(Tensor x, Tensor scale, Tensor bias, int[] axes, float epsilon)
    {
        var (mean, variance, group, _) = TypedMoments(x, axes);
        int channels = x.Shape[1], inner = x.Size / Math.Max(1, x.Shape[0] * channels);
        var y = new double[x.Size];
        for (int i = 0; i < y.Length; i++)
        {
            int g = group[i], c = i / Math.Max(1, inner) % channels;
            y[i] = (x.GetDouble(i) - mean[g]) / Math.Sqrt(variance[g] + epsilon) * scale.GetDouble(c) + bias.GetDouble(c);
        }
        return NormResult(y, x.DataType, x.Shape);
    }

    private static Tensor LrnTyped(Tensor x, int before, int after, double alphaOverSize, double beta, double bias)
    {
        int channels = x.Shape[1], batch = x.Shape[0], rest = x.Size / Math.Max(1, batch * channels);
        var y = new double[x.Size];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int r = 0; r < rest; r++)
                {
                    double squareSum = 0;
                    for (int i = Math.Max(0, c - before); i <= Math.Min(channels - 1, c + after); i++)
                    {
                        double v = x.GetDouble((n * channels + i) * rest + r);
                        squareSum += v * v;
                    }
                    int at = (n * channels + c) * rest + r;
                    y[at] = x.GetDouble(at) / Math.Pow(bias + alphaOverSize * squareSum, beta);
                }
        return NormResult(y, x.DataType, x.Shape);
    }

    // The mean and biased variance of x over axes, one per element of the shape with those axes kept as 1 (GroupShape);
    // Group[i] is the group of element i.
    private static (double[] Mean, double[] Variance, int[] Group, int[] GroupShape) TypedMoments(Tensor x, int[] axes)
    {
        int[] groupShape = [.. x.Shape.Select((d, i) => axes.Contains(i) ? 1 : d)];
        var group = BroadcastIndex.Map(groupShape, x.Shape) ?? [.. Enumerable.Range(0, x.Size)];
        int groups = Shape.Size(groupShape);
        var (mean, variance, count) = (new double[groups], new double[groups], new int[groups]);
        for (int i = 0; i < x.Size; i++) { mean[group[i]] += x.GetDouble(i); count[group[i]]++; }
        for (int g = 0; g < groups; g++) mean[g] /= count[g];
        for (int i = 0; i < x.Size; i++) { double d = x.GetDouble(i) - mean[group[i]]; variance[group[i]] += d * d; }
        for (int g = 0; g < groups; g++) variance[g] /= count[g];
        return (mean, variance, group, groupShape);
    }

    private static Tensor NormResult(double[] values, DataType type, int[] shape) => type == DataType.Float64
        ? Tensor.FromDoubles(values, shape)
        : Tensor.FromFloats(Array.ConvertAll(values, v => (float)v), type, shape);
}
