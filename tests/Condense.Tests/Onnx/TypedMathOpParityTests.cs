// The math and activation family against ONNX Runtime for every type both run (ONNX Runtime 1.31's CPU kernels;
// it runs float16 through float32 where it has no float16 kernel, as Condense does): the unary functions, the
// activations, the Softmax family, and the binary and variadic ops with broadcasting.
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public partial class TypedMathOpParityTests
{
    private const DataType F32 = DataType.Float32, F64 = DataType.Float64, F16 = DataType.Float16, BF16 = DataType.BFloat16;
    private const DataType I8 = DataType.Int8, I16 = DataType.Int16, I32 = DataType.Int32, I64 = DataType.Int64;
    private const DataType U8 = DataType.UInt8, U16 = DataType.UInt16, U32 = DataType.UInt32, U64 = DataType.UInt64;

    private static readonly DataType[] Half = [F32, F16], Floats = [F32, F64, F16];
    private static readonly DataType[] Integers = [I8, I16, I32, I64, U8, U16, U32, U64];
    private static readonly DataType[] Numeric = [.. Floats, .. Integers];

    // Each op with the types ONNX Runtime runs it on and the input range (floats) inside its domain.
    private static readonly (string Op, DataType[] Types, double Low, double High)[] UnaryOps =
    [
        ("Abs", Numeric, -2, 2), ("Neg", [.. Floats, I8, I16, I32, I64], -2, 2), ("Sign", [.. Numeric, BF16], -2, 2),
        ("Ceil", Floats, -3, 3), ("Floor", Floats, -3, 3), ("Round", Floats, -3, 3), ("Reciprocal", Floats, 0.2, 3),
        ("Sqrt", Floats, 0.1, 3), ("Exp", Floats, -3, 3), ("Log", Floats, 0.1, 3), ("Erf", Half, -2, 2),
        ("Sin", Floats, -4, 4), ("Cos", Floats, -4, 4), ("Tan", Half, -1.2, 1.2), ("Asin", Half, -0.95, 0.95),
        ("Acos", Half, -0.95, 0.95), ("Atan", Half, -4, 4), ("Sinh", Half, -3, 3), ("Cosh", Half, -3, 3),
        ("Tanh", Floats, -3, 3), ("Asinh", Half, -4, 4), ("Acosh", Half, 1.1, 4), ("Atanh", Half, -0.9, 0.9),
        ("Relu", [.. Floats, I8, I32], -2, 2), ("Sigmoid", Floats, -4, 4), ("LeakyRelu", Floats, -2, 2),
        ("Elu", Half, -3, 3), ("Selu", Half, -3, 3), ("Celu", [F32], -3, 3), ("ThresholdedRelu", Half, -2, 2),
        ("HardSigmoid", Half, -4, 4), ("HardSwish", Half, -5, 5), ("Softplus", Half, -5, 5), ("Softsign", Half, -3, 3),
        ("Mish", Floats, -5, 5), ("Gelu", Half, -4, 4), ("Shrink", Numeric, -2, 2),
        ("BitwiseNot", Integers, 0, 0),
    ];

    private static long OpsetOf(string op) => op switch { "Gelu" => 20, "Mish" or "BitwiseNot" => 18, _ => 16 };

    public static TheoryData<string, DataType> UnaryCases()
    {
        var data = new TheoryData<string, DataType>();
        foreach (var (op, types, _, _) in UnaryOps) foreach (var t in types) data.Add(op, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryMatchesOnnxRuntime(string op, DataType type)
    {
        var (_, _, low, high) = UnaryOps.Single(u => u.Op == op);
        var x = TypedParity.Random(type, [3, 5], 61, low, high);
        // Shrink's float bias and threshold on integers: the result is truncated to the type.
        AttributeProto[] attributes = op == "Shrink" ? [Float("bias", 1.5f), Float("lambd", 2f)] : op == "Elu" ? [Float("alpha", 0.5f)] : [];
        Assert.Null(TypedParity.Mismatch([Node(op, ["x"], "y", attributes)], [("x", x)], [("y", type)], OpsetOf(op)));
    }

    public static TheoryData<string, DataType> SoftmaxCases()
    {
        var data = new TheoryData<string, DataType>();
        foreach (var op in new[] { "Softmax", "LogSoftmax" }) foreach (var t in Floats) data.Add(op, t);
        foreach (var t in Half) data.Add("Hardmax", t);
        return data;
    }

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void SoftmaxFamilyMatchesOnnxRuntime(string op, DataType type)
    {
        var x = TypedParity.Random(type, [2, 4, 3], 62, -3, 3);
        Assert.Null(TypedParity.Mismatch([Node(op, ["x"], "y", Int("axis", 1))], [("x", x)], [("y", type)]));
        // Opset 11 normalizes over every axis from `axis` on.
        Assert.Null(TypedParity.Mismatch([Node(op, ["x"], "y", Int("axis", 1))], [("x", x)], [("y", type)], opset: 11));
    }

    [Theory]
    [InlineData(F32)]
    [InlineData(F64)]
    [InlineData(F16)]
    public void IsNaNAndIsInfFindTheSpecialValues(DataType type)
    {
        var x = TypedOps.Cast(Tensor.FromDoubles([1, double.NaN, double.PositiveInfinity, -2, double.NegativeInfinity, 0], 2, 3), type);
        Assert.Null(TypedParity.Mismatch([Node("IsNaN", ["x"], "y")], [("x", x)], [("y", DataType.Bool)]));
        if (type == F16) return; // ONNX Runtime's IsInf has no float16 kernel
        foreach (var (positive, negative) in new[] { (1, 1), (1, 0), (0, 1) })
        {
            var node = Node("IsInf", ["x"], "y", Int("detect_positive", positive), Int("detect_negative", negative));
            Assert.Null(TypedParity.Mismatch([node], [("x", x)], [("y", DataType.Bool)]));
        }
    }

    private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(value) };
}
