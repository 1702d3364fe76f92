// The math and activation family: unary math (Abs … Atanh, IsNaN, IsInf), activations (Elu … Shrink, PRelu),
// Hardmax, Mod, BitShift, the variadic Min/Max/Sum/Mean and the bitwise ops. Each elementwise op is a scalar function
// (Graph/GraphOps.Math*.cs): float32 trains through autograd, float16/bfloat16/float64 and the integer types ONNX allows
// run typed without gradients. Relu, Sigmoid, Softmax and the other float ops that came first are in ElementwiseOps.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static partial class MathOps
{
    /// <summary>The four floating-point types.</summary>
    internal static readonly IReadOnlySet<DataType> Floats = new HashSet<DataType> { DataType.Float32, DataType.Float64, DataType.Float16, DataType.BFloat16 };

    /// <summary>The floating-point and signed integer types (Neg, Relu).</summary>
    internal static readonly IReadOnlySet<DataType> Signed = Floats.Concat([DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64]).ToHashSet();

    /// <summary>The integer types (the bitwise ops).</summary>
    internal static readonly IReadOnlySet<DataType> Integers = DataTypes.All.Where(t => t.IsInteger()).ToHashSet();

    /// <summary>The unsigned integer types (BitShift).</summary>
    internal static readonly IReadOnlySet<DataType> Unsigned = new HashSet<DataType> { DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64 };

    /// <summary>PRelu's types (opset 16): the floats and 32/64-bit integers.</summary>
    internal static readonly IReadOnlySet<DataType> PReluTypes = Floats.Concat([DataType.Int32, DataType.Int64, DataType.UInt32, DataType.UInt64]).ToHashSet();

    public static OpDef[] Defs => [.. UnaryDefs, .. ActivationDefs, .. BinaryDefs];

    private static OpDef[] UnaryDefs =>
    [
        Unary(OpTypes.Abs, AbsFunction, TypeSets.Numeric),
        Unary(OpTypes.Neg, NegFunction, Signed),
        Unary(OpTypes.Sign, SignFunction, TypeSets.Numeric, since: 9),
        Unary(OpTypes.Ceil, CeilFunction),
        Unary(OpTypes.Floor, FloorFunction),
        Unary(OpTypes.Round, RoundFunction, since: 11),
        Unary(OpTypes.Reciprocal, ReciprocalFunction),
        Unary(OpTypes.Sin, SinFunction, since: 7),
        Unary(OpTypes.Cos, CosFunction, since: 7),
        Unary(OpTypes.Tan, TanFunction, since: 7),
        Unary(OpTypes.Asin, AsinFunction, since: 7),
        Unary(OpTypes.Acos, AcosFunction, since: 7),
        Unary(OpTypes.Atan, AtanFunction, since: 7),
        Unary(OpTypes.Sinh, SinhFunction, since: 9),
        Unary(OpTypes.Cosh, CoshFunction, since: 9),
        Unary(OpTypes.Asinh, AsinhFunction, since: 9),
        Unary(OpTypes.Acosh, AcoshFunction, since: 9),
        Unary(OpTypes.Atanh, AtanhFunction, since: 9),
        new(OpTypes.IsNaN, (n, x, _) => [TypedOps.Test(n.OpType, Required(n, x, 0), double.IsNaN)], OpGradient.None, OpExport.AsIs)
            { Since = 9, Types = Floats },
        new(OpTypes.IsInf, (n, x, _) => [TypedOps.Test(n.OpType, Required(n, x, 0), IsInfTest(n))], OpGradient.None, OpExport.AsIs)
            { Since = 10, Types = Floats },
        Unary(OpTypes.BitwiseNot, BitwiseNotFunction, Integers, since: 18),
    ];

    // An elementwise op of one scalar function: a gradient exactly when the function has a derivative.
    private static OpDef Unary(string name, ScalarFunction function, IReadOnlySet<DataType>? types = null, int since = 1) =>
        new(name, (n, x, _) => [Elementwise(n, x, function)], function.Derivative is null ? OpGradient.None : OpGradient.Autograd, OpExport.AsIs)
            { Since = since, Types = types ?? Floats };

    // An elementwise op whose scalar function reads the node's attributes.
    private static OpDef Unary(string name, Func<Node, ScalarFunction> function, IReadOnlySet<DataType>? types = null, int since = 1) =>
        new(name, (n, x, _) => [Elementwise(n, x, function(n))], OpGradient.Autograd, OpExport.AsIs) { Since = since, Types = types ?? Floats };
}
