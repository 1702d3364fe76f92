// Elementwise functions given as a scalar function and its derivative (ONNX's unary math and activation ops):
// float32 through autograd (Map), every other floating type and the integer types an op allows through
// TypedOps.Map / TypedOps.Test without gradients. The function runs in double, so float32, float16 and bfloat16
// results are the double result rounded once to the type, float64 results are the double result.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// y = f(x) elementwise on a float32 tensor, with the gradient g · f′(x, y) (<paramref name="derivative"/> reads the
    /// input and the output, whichever is cheaper).
    /// </summary>
    internal Tensor Map(Func<double, double> f, Func<double, double, double> derivative) => Pointwise(
        (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = (float)f(x[i]); },
        (g, x, y, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = g[i] == 0 ? 0f : (float)(g[i] * derivative(x[i], y[i])); });

    /// <summary>The error function in double (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).</summary>
    internal static double ErfDouble(double x)
    {
        double a = Math.Abs(x), t = 1.0 / (1.0 + 0.3275911 * a);
        double poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        return Math.CopySign(1.0 - poly * Math.Exp(-a * a), x);
    }
}

public static partial class TypedOps
{
    /// <summary>
    /// y = f(x) elementwise in the input's type, no gradient: floats through <paramref name="f"/> in double (rounded to
    /// float32/float16/bfloat16), integers through <paramref name="integer"/> (its result wrapped to the type); an integer
    /// or bool input without one is refused in one line.
    /// </summary>
    internal static Tensor Map(string op, Tensor x, Func<double, double> f, Func<long, DataType, long>? integer = null)
    {
        var type = x.DataType;
        var y = Tensor.Allocate(type, x.Shape);
        switch (type.Storage())
        {
            case TensorStorage.Single:
                var (fx, fy) = (x.SingleData, y.SingleData);
                for (int i = 0; i < fy.Length; i++) fy[i] = type.Round((float)f(fx[i]));
                break;
            case TensorStorage.Double:
                var (dx, dy) = (x.Float64Data, y.Float64Data);
                for (int i = 0; i < dy.Length; i++) dy[i] = f(dx[i]);
                break;
            default:
                if (integer is null || type == DataType.Bool) throw new CondenseException($"{op} is not defined for {type.OnnxName()} tensors");
                var (lx, ly) = (x.Int64Data, y.Int64Data);
                for (int i = 0; i < ly.Length; i++) ly[i] = type.Wrap(integer(lx[i], type));
                break;
        }
        return y;
    }

    /// <summary>A bool tensor of <paramref name="predicate"/> applied to each element of a floating-point tensor (IsNaN, IsInf).</summary>
    internal static Tensor Test(string op, Tensor x, Func<double, bool> predicate)
    {
        if (!x.DataType.IsFloat()) throw new CondenseException($"{op} is not defined for {x.DataType.OnnxName()} tensors");
        var y = Tensor.Allocate(DataType.Bool, x.Shape);
        var ly = y.Int64Data;
        for (int i = 0; i < ly.Length; i++) ly[i] = predicate(x.GetDouble(i)) ? 1 : 0;
        return y;
    }

    /// <summary>
    /// An integer-only binary op with broadcasting (ONNX BitShift, BitwiseAnd/Or/Xor): <paramref name="f"/> on the
    /// values as stored (uint64 as its bits), the result wrapped to the type; float and bool inputs are refused.
    /// </summary>
    internal static Tensor IntegerBinary(string op, Tensor a, Tensor b, Func<long, long, DataType, long> f)
    {
        if (!a.DataType.IsInteger()) throw new CondenseException($"{op} is not defined for {a.DataType.OnnxName()} tensors");
        return Binary(op, a, b, new((_, _) => float.NaN, (_, _) => double.NaN, f));
    }

    /// <summary>
    /// Softmax, LogSoftmax or Hardmax along <paramref name="axis"/> of a tensor of any floating type, computed in
    /// double and rounded to the type; no gradient (float32 Softmax and LogSoftmax train through Tensor.Softmax).
    /// Hardmax puts 1 at the first largest element of each slice.
    /// </summary>
    internal static Tensor SoftmaxFamily(string op, Tensor x, int axis, bool log, bool hard)
    {
        if (!x.DataType.IsFloat()) throw new CondenseException($"{op} is not defined for {x.DataType.OnnxName()} tensors");
        int rank = x.Rank;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) throw new CondenseException($"{op}: axis {axis} is out of range for rank {rank}");
        int n = x.Shape[axis], inner = 1, outer = 1;
        for (int d = axis + 1; d < rank; d++) inner *= x.Shape[d];
        for (int d = 0; d < axis; d++) outer *= x.Shape[d];
        var values = new double[x.Size];
        for (int i = 0; i < values.Length; i++) values[i] = x.GetDouble(i);
        var result = new double[values.Length];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                int start = o * n * inner + j, best = 0;
                double max = double.NegativeInfinity;
                for (int k = 0; k < n; k++)
                    if (values[start + k * inner] > max) { max = values[start + k * inner]; best = k; }
                if (hard)
                {
                    if (n > 0) result[start + best * inner] = 1;
                    continue;
                }
                double sum = 0;
                for (int k = 0; k < n; k++) sum += Math.Exp(values[start + k * inner] - max);
                double logSum = Math.Log(sum);
                for (int k = 0; k < n; k++)
                {
                    double z = values[start + k * inner] - max - logSum;
                    result[start + k * inner] = log ? z : Math.Exp(z);
                }
            }
        return Cast(Tensor.FromDoubles(result, x.Shape), x.DataType);
    }
}
