// Elementwise arithmetic for every element type, as ONNX specifies it: integers wrap like their type (uint8
// 200 + 100 = 44), integer division truncates toward zero, float16/bfloat16 are computed in float32 and rounded
// once (exact for + − × ÷: float32 has more than twice their precision plus two bits), float64 in double.
// No gradients: float32 arithmetic with autograd is Ops.Elementwise.cs; the graph ops pick one or the other.
namespace Condense.Tensors;

/// <summary>Element-wise binary functions, one per storage, for <see cref="TypedOps.Binary"/>.</summary>
internal sealed record BinaryFunctions(Func<float, float, float> Single, Func<double, double, double> Double, Func<long, long, DataType, long> Integer);

/// <summary>Typed (non-autograd) tensor ops over every <see cref="DataType"/>.</summary>
public static partial class TypedOps
{
    /// <summary>Two inputs must share an element type (ONNX type constraint T); a one-line error otherwise.</summary>
    public static void CheckSameType(string op, Tensor a, Tensor b)
    {
        if (a.DataType != b.DataType)
            throw new CondenseException($"{op}: inputs of types {a.DataType.OnnxName()} and {b.DataType.OnnxName()}; ONNX requires one type");
    }

    /// <summary>a + b with broadcasting, any numeric type.</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(nameof(Add), a, b, AddFunctions);

    /// <summary>a − b with broadcasting, any numeric type.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(nameof(Sub), a, b, SubFunctions);

    /// <summary>a × b with broadcasting, any numeric type.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(nameof(Mul), a, b, MulFunctions);

    /// <summary>a ÷ b with broadcasting; integer division truncates toward zero and refuses a zero divisor.</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(nameof(Div), a, b, DivFunctions);

    /// <summary>The larger of a and b (NaN when either is NaN, as ONNX Runtime).</summary>
    public static Tensor Max(Tensor a, Tensor b) => Binary(nameof(Max), a, b, MaxFunctions);

    /// <summary>The smaller of a and b (NaN when either is NaN, as ONNX Runtime).</summary>
    public static Tensor Min(Tensor a, Tensor b) => Binary(nameof(Min), a, b, MinFunctions);

    /// <summary>
    /// ONNX Mod: with <paramref name="fmod"/> the remainder takes the dividend's sign (C fmod, required for floats);
    /// without, the divisor's (Python's %).
    /// </summary>
    public static Tensor Mod(Tensor a, Tensor b, bool fmod) => Binary(nameof(Mod), a, b, fmod
        ? new((x, y) => x % y, (x, y) => x % y, (x, y, t) => y == 0 ? throw DivideByZero(nameof(Mod)) : Remainder(x, y, t))
        : new((x, y) => FloorMod(x, y), (x, y) => FloorMod(x, y), (x, y, t) =>
        {
            if (y == 0) throw DivideByZero(nameof(Mod));
            long r = Remainder(x, y, t);
            return r != 0 && (t == DataType.UInt64 ? false : (r < 0) != (y < 0)) ? r + y : r;
        }));

    /// <summary>
    /// ONNX Pow: the base's type out, the exponent of any numeric type; computed in double (exact for integer results
    /// under 2^53), integers truncated toward zero and wrapped, as ONNX Runtime's std::pow and cast do.
    /// </summary>
    public static Tensor Pow(Tensor x, Tensor exponent)
    {
        var shape = BroadcastIndex.Shape(x.Shape, exponent.Shape);
        var mx = BroadcastIndex.Map(x.Shape, shape);
        var me = BroadcastIndex.Map(exponent.Shape, shape);
        var powers = new double[Shape.Size(shape)];
        for (int i = 0; i < powers.Length; i++) powers[i] = Math.Pow(x.GetDouble(mx?[i] ?? i), exponent.GetDouble(me?[i] ?? i));
        return Cast(Tensor.FromDoubles(powers, shape), x.DataType);
    }

    /// <summary>ONNX Clip for any numeric type: min(max(x, low), high), a missing bound leaving that side open.</summary>
    public static Tensor Clip(Tensor x, Tensor? low, Tensor? high)
    {
        var y = low is null ? x : Max(x, low);
        return high is null ? y : Min(y, high);
    }

    /// <summary>The binary op <paramref name="f"/> over broadcast <paramref name="a"/> and <paramref name="b"/> of one type.</summary>
    internal static Tensor Binary(string op, Tensor a, Tensor b, BinaryFunctions f)
    {
        CheckSameType(op, a, b);
        var type = a.DataType;
        var shape = BroadcastIndex.Shape(a.Shape, b.Shape);
        var ma = BroadcastIndex.Map(a.Shape, shape);
        var mb = BroadcastIndex.Map(b.Shape, shape);
        var y = Tensor.Allocate(type, shape);
        int n = y.Size;
        switch (type.Storage())
        {
            case TensorStorage.Single:
                var (fa, fb, fy) = (a.SingleData, b.SingleData, y.SingleData);
                for (int i = 0; i < n; i++) fy[i] = type.Round(f.Single(fa[ma?[i] ?? i], fb[mb?[i] ?? i]));
                break;
            case TensorStorage.Double:
                var (da, db, dy) = (a.Float64Data, b.Float64Data, y.Float64Data);
                for (int i = 0; i < n; i++) dy[i] = f.Double(da[ma?[i] ?? i], db[mb?[i] ?? i]);
                break;
            default:
                if (type == DataType.Bool) throw new CondenseException($"{op} is not defined for bool tensors");
                var (la, lb, ly) = (a.Int64Data, b.Int64Data, y.Int64Data);
                for (int i = 0; i < n; i++) ly[i] = type.Wrap(f.Integer(la[ma?[i] ?? i], lb[mb?[i] ?? i], type));
                break;
        }
        return y;
    }

    private static readonly BinaryFunctions AddFunctions = new((x, y) => x + y, (x, y) => x + y, (x, y, _) => unchecked(x + y));
    private static readonly BinaryFunctions SubFunctions = new((x, y) => x - y, (x, y) => x - y, (x, y, _) => unchecked(x - y));
    private static readonly BinaryFunctions MulFunctions = new((x, y) => x * y, (x, y) => x * y, (x, y, _) => unchecked(x * y));
    private static readonly BinaryFunctions DivFunctions = new((x, y) => x / y, (x, y) => x / y, (x, y, t) =>
        y == 0 ? throw DivideByZero(nameof(Div))
        : t == DataType.UInt64 ? (long)((ulong)x / (ulong)y)
        : x == long.MinValue && y == -1 ? long.MinValue : x / y);
    private static readonly BinaryFunctions MaxFunctions = new(
        (x, y) => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : Math.Max(x, y),
        (x, y) => double.IsNaN(x) || double.IsNaN(y) ? double.NaN : Math.Max(x, y),
        (x, y, t) => t == DataType.UInt64 ? (long)Math.Max((ulong)x, (ulong)y) : Math.Max(x, y));
    private static readonly BinaryFunctions MinFunctions = new(
        (x, y) => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : Math.Min(x, y),
        (x, y) => double.IsNaN(x) || double.IsNaN(y) ? double.NaN : Math.Min(x, y),
        (x, y, t) => t == DataType.UInt64 ? (long)Math.Min((ulong)x, (ulong)y) : Math.Min(x, y));

    private static long Remainder(long x, long y, DataType type) =>
        type == DataType.UInt64 ? (long)((ulong)x % (ulong)y) : y == -1 ? 0 : x % y;

    private static float FloorMod(float x, float y) { float r = x % y; return r != 0 && (r < 0) != (y < 0) ? r + y : r; }

    private static double FloorMod(double x, double y) { double r = x % y; return r != 0 && (r < 0) != (y < 0) ? r + y : r; }

    private static CondenseException DivideByZero(string op) => new($"{op}: integer division by zero");
}
