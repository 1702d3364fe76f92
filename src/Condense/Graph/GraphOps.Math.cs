// The math and activation family (Ops/MathOps*): each elementwise op is a ScalarFunction — the function and its
// derivative in double, and its integer form where ONNX allows integers. Float32 runs through autograd (Tensor.Map, or
// the existing vectorized kernel of Relu, Sigmoid, …); float16, bfloat16, float64 and integers run typed
// (TypedOps.Map), without gradients. The variadic ops, PRelu, Mod, BitShift and the Softmax family are here too.
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>An elementwise function: in double, its derivative f′(x, y) (null: no gradient), its integer form (null: floats only).</summary>
internal sealed record ScalarFunction(Func<double, double> F, Func<double, double, double>? Derivative = null, Func<long, DataType, long>? Integer = null)
{
    /// <summary>The function on float32 arrays in float, vectorized, for inference (no gradient wanted); null: F element by element.</summary>
    public Float32Map? Float32Inference { get; init; }
}

/// <summary>y = f(x) on float32 arrays of equal length.</summary>
internal delegate void Float32Map(float[] x, float[] y);

public static partial class GraphOps
{
    // The op's scalar function on input 0: float32 through autograd when it has a derivative, everything else typed.
    internal static Tensor Elementwise(Node node, Tensor?[] inputs, ScalarFunction function)
    {
        var x = Required(node, inputs, 0);
        if (x.DataType == DataType.Float32 && function.Float32Inference is { } fast && !(Autograd.GradMode.Enabled && x.RequiresGrad))
            return Inference(x, fast);
        return x.DataType == DataType.Float32 && function.Derivative is { } derivative
            ? x.Map(function.F, derivative)
            : TypedOps.Map(node.OpType, x, function.F, function.Integer);
    }

    // Float32 through the function's inference kernel when no gradient is wanted and it has one, else its own autograd
    // kernel (the vectorized Relu, Sigmoid, …); other types through the scalar function.
    internal static Tensor Elementwise(Node node, Tensor?[] inputs, Func<Tensor, Tensor> float32, ScalarFunction typed)
    {
        var x = Required(node, inputs, 0);
        if (x.DataType != DataType.Float32) return TypedOps.Map(node.OpType, x, typed.F, typed.Integer);
        return typed.Float32Inference is { } fast && !(Autograd.GradMode.Enabled && x.RequiresGrad) ? Inference(x, fast) : float32(x);
    }

    private static Tensor Inference(Tensor x, Float32Map fast)
    {
        var y = Tensor.Uninitialized(x.Shape);
        fast(x.Data, y.Data);
        return y;
    }

    internal static readonly ScalarFunction ReluFunction = new(x => x > 0 || double.IsNaN(x) ? x : 0, null, (v, t) => t == DataType.UInt64 || v > 0 ? v : 0);
    internal static readonly ScalarFunction SigmoidFunction = new(x => 1 / (1 + Math.Exp(-x)))
        { Float32Inference = Kernels.Elementwise.SigmoidKernel.Apply };
    internal static readonly ScalarFunction TanhFunction = new(Math.Tanh);
    internal static readonly ScalarFunction ExpFunction = new(Math.Exp);
    internal static readonly ScalarFunction LogFunction = new(Math.Log);
    internal static readonly ScalarFunction SqrtFunction = new(Math.Sqrt);
    internal static readonly ScalarFunction ErfFunction = new(Tensor.ErfDouble);

    internal static ScalarFunction LeakyReluFunction(float alpha) => new(x => x >= 0 ? x : alpha * x);

    // GELU exact or tanh; at inference on GeluKernel's one-pass kernels.
    internal static ScalarFunction GeluFunction(bool tanh) => tanh
        ? new(x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))))
            { Float32Inference = Kernels.Transformer.GeluKernel.ApplyTanh }
        : new(x => 0.5 * x * (1 + Tensor.ErfDouble(x / Math.Sqrt(2)))) { Float32Inference = Kernels.Transformer.GeluKernel.Apply };

    // ONNX Softmax/LogSoftmax (opset 13+: one axis; older opsets are rewritten on import, OpsetUpgrades.CoercedSoftmax).
    internal static Tensor SoftmaxFamily(Node node, Tensor?[] inputs, bool log)
    {
        var x = Required(node, inputs, 0);
        int axis = (int)node.Int("axis", -1);
        if (x.DataType != DataType.Float32) return TypedOps.SoftmaxFamily(node.OpType, x, axis, log, hard: false);
        return log ? x.LogSoftmax(axis) : x.Softmax(axis);
    }

    // ONNX Hardmax: 1 at the first largest element along the axis; piecewise constant, so no gradient.
    internal static Tensor Hardmax(Node node, Tensor?[] inputs) =>
        TypedOps.SoftmaxFamily(node.OpType, Required(node, inputs, 0), (int)node.Int("axis", -1), log: false, hard: true);

    // ONNX PRelu: x, or slope · x where x < 0, the slope broadcast to x's shape (unidirectionally: the output has x's shape).
    internal static Tensor PRelu(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var slope = Required(node, inputs, 1);
        if (!BroadcastIndex.Shape(x.Shape, slope.Shape).SequenceEqual(x.Shape))
            throw new CondenseException($"node '{node.Name}' (PRelu): slope {Shape.Format(slope.Shape)} does not broadcast to X {Shape.Format(x.Shape)}");
        if (x.DataType == DataType.Float32 && slope.DataType == DataType.Float32)
            return x.Relu().Sub(x.Mul(-1f).Relu().Mul(slope)); // relu(x) − slope · relu(−x): x above 0, slope · x below
        return TypedOps.Binary(node.OpType, x, slope, new(
            (v, s) => v < 0 ? s * v : v, (v, s) => v < 0 ? s * v : v,
            (v, s, t) => t is DataType.UInt64 or DataType.UInt32 || v >= 0 ? v : unchecked(s * v)));
    }

    // ONNX Sum, Mean, Max, Min: any number of inputs (one at least), broadcasting. Float32 trains: Sum and Mean through
    // Add, Max and Min through Where on the side each element came from (NaN wins, as in ONNX Runtime).
    internal static Tensor Variadic(Node node, Tensor?[] inputs)
    {
        if (inputs.Length == 0) throw new CondenseException($"node '{node.Name}' ({node.OpType}) has no inputs");
        var parts = inputs.Select((t, i) => t ?? Required(node, inputs, i)).ToArray();
        // float16 and bfloat16 add up in float32 and round once at the end, as ONNX Runtime does.
        if (parts[0].DataType is DataType.Float16 or DataType.BFloat16 && node.OpType is OpTypes.Sum or OpTypes.Mean)
        {
            var type = parts[0].DataType;
            foreach (var p in parts) TypedOps.CheckSameType(node.OpType, parts[0], p);
            var sum = Variadic(node, [.. parts.Select(p => TypedOps.Cast(p, DataType.Float32))]);
            return TypedOps.Cast(sum, type);
        }
        bool float32 = parts.All(p => p.DataType == DataType.Float32);
        var y = parts[0];
        foreach (var b in parts[1..])
            y = node.OpType switch
            {
                OpTypes.Max or OpTypes.Min when float32 => Extreme(y, b, node.OpType == OpTypes.Max),
                OpTypes.Max => TypedOps.Max(y, b),
                OpTypes.Min => TypedOps.Min(y, b),
                _ => float32 ? y.Add(b) : TypedOps.Add(y, b),
            };
        if (node.OpType != OpTypes.Mean || parts.Length == 1) return y;
        return float32 ? y.Div(Tensor.Scalar(parts.Length)) : TypedOps.Div(y, TypedOps.Cast(Tensor.Scalar(parts.Length), y.DataType));
    }

    // max(a, b) or min(a, b) of float32 tensors with the gradient to the side chosen (a on ties and where a is NaN).
    private static Tensor Extreme(Tensor a, Tensor b, bool largest)
    {
        var keepA = TypedOps.Logical(TypedOps.Compare(a, b, largest ? Comparison.GreaterOrEqual : Comparison.LessOrEqual),
            TypedOps.Test(nameof(Extreme), a, double.IsNaN), Logic.Or);
        return Tensor.Where(keepA, a, b);
    }

    // ONNX Mod (opset 10): fmod = 1 takes the dividend's sign (C fmod), fmod = 0 the divisor's; floats require fmod = 1.
    internal static Tensor Mod(Node node, Tensor?[] inputs)
    {
        var a = Required(node, inputs, 0);
        bool fmod = node.Int("fmod", 0) != 0;
        if (a.DataType.IsFloat() && !fmod)
            throw new CondenseException($"node '{node.Name}' (Mod): fmod = 0 on {a.DataType.OnnxName()} inputs; ONNX requires fmod = 1 for floats");
        return TypedOps.Mod(a, Required(node, inputs, 1), fmod);
    }

    // ONNX BitShift (opset 11) on unsigned integers; shifting by the type's width or more gives 0.
    internal static Tensor BitShift(Node node, Tensor?[] inputs)
    {
        bool left = node.Attributes.TryGetValue("direction", out var d) && d.StringValue == "LEFT";
        if (!left && d?.StringValue != "RIGHT")
            throw new CondenseException($"node '{node.Name}' (BitShift): direction must be \"LEFT\" or \"RIGHT\"");
        return TypedOps.IntegerBinary(node.OpType, Required(node, inputs, 0), Required(node, inputs, 1), (x, s, t) =>
            (ulong)s >= (ulong)(8 * t.ByteSize()) ? 0 : left ? (long)((ulong)x << (int)s) : (long)((ulong)x >> (int)s));
    }

    // ONNX BitwiseAnd, BitwiseOr, BitwiseXor (opset 18) on integers, broadcasting.
    internal static Tensor Bitwise(Node node, Tensor?[] inputs) =>
        TypedOps.IntegerBinary(node.OpType, Required(node, inputs, 0), Required(node, inputs, 1), node.OpType switch
        {
            OpTypes.BitwiseAnd => (x, y, _) => x & y,
            OpTypes.BitwiseOr => (x, y, _) => x | y,
            _ => (x, y, _) => x ^ y,
        });
}
