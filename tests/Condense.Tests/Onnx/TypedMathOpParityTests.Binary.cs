// The binary and variadic ops of the math family against ONNX Runtime for every type both run: PRelu, Mod (both
// sign conventions), BitShift, the bitwise ops, Min/Max/Sum/Mean over three broadcast inputs, and the arithmetic ops
// on the types beyond float32/float64/int32/int64 (float16 computed in float32 and rounded once; small integers wrap).
// Also the one-line refusals of what ONNX leaves undefined or forbids.
using Condense.Graph;
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public partial class TypedMathOpParityTests
{
    public static TheoryData<string, DataType> BinaryCases()
    {
        var data = new TheoryData<string, DataType>();
        foreach (var t in new[] { F32, F64, F16, I32, I64, U32 }) data.Add("PRelu", t);
        foreach (var t in Numeric) data.Add("Mod", t);
        foreach (var op in new[] { "BitwiseAnd", "BitwiseOr", "BitwiseXor" }) foreach (var t in Integers) data.Add(op, t);
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div" }) foreach (var t in new[] { F16, I8, I16, U8, U16, U32, U64 }) data.Add(op, t);
        data.Add("Pow", F16);
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BinaryMatchesOnnxRuntime(string op, DataType type)
    {
        var a = TypedParity.Random(type, [3, 4], 63, -5, 5);
        var b = TypedParity.Random(type, [4], 64, 0.5, 2);
        if (op is "Mod" or "Div" && !type.IsFloat()) b = TypedOps.Map("test", b, v => v, (v, _) => v == 0 ? 3 : v); // no zero divisors
        if (op == "Pow") a = TypedOps.Map("test", a, Math.Abs);
        // Floats take the dividend's sign (fmod = 1, required for them); integers the divisor's (fmod = 0) here.
        var attributes = op == "Mod" && type.IsFloat() ? new[] { Int("fmod", 1) } : [];
        long opset = op.StartsWith("Bitwise", StringComparison.Ordinal) ? 18 : 16;
        Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b"], "y", attributes)], [("a", a), ("b", b)], [("y", type)], opset));
    }

    [Theory]
    [InlineData(I8)]
    [InlineData(I32)]
    [InlineData(I64)]
    [InlineData(U8)]
    [InlineData(U64)]
    public void IntegerFmodTakesTheDividendsSign(DataType type)
    {
        var a = TypedParity.Random(type, [3, 4], 65);
        var b = TypedOps.Map("test", TypedParity.Random(type, [4], 66), v => v, (v, _) => v == 0 ? -7 : v);
        Assert.Null(TypedParity.Mismatch([Node("Mod", ["a", "b"], "y", Int("fmod", 1))], [("a", a), ("b", b)], [("y", type)], opset: 13));
    }

    [Theory]
    [InlineData(U8, "LEFT")]
    [InlineData(U8, "RIGHT")]
    [InlineData(U32, "LEFT")]
    [InlineData(U32, "RIGHT")]
    [InlineData(U64, "LEFT")]
    [InlineData(U64, "RIGHT")]
    public void BitShiftMatchesOnnxRuntime(DataType type, string direction)
    {
        var x = TypedParity.Random(type, [3, 4], 67);
        // Shifts below the width (ONNX Runtime's shifts by the width or more are C++'s undefined behaviour).
        var s = Tensor.FromInt64s([0, 1, 5, 7], type, 4);
        var node = Node("BitShift", ["x", "s"], "y", String("direction", direction));
        Assert.Null(TypedParity.Mismatch([node], [("x", x), ("s", s)], [("y", type)], opset: 11));
    }

    public static TheoryData<string, DataType> VariadicCases()
    {
        var data = new TheoryData<string, DataType>();
        foreach (var op in new[] { "Max", "Min" }) foreach (var t in new[] { F32, F64, F16, I8, I32, I64, U8, U32, U64 }) data.Add(op, t);
        foreach (var t in Floats) data.Add("Sum", t);
        foreach (var t in Half) data.Add("Mean", t);
        return data;
    }

    [Theory]
    [MemberData(nameof(VariadicCases))]
    public void VariadicMatchesOnnxRuntime(string op, DataType type)
    {
        var a = TypedParity.Random(type, [3, 1, 4], 68);
        var b = TypedParity.Random(type, [2, 4], 69);
        var c = TypedParity.Random(type, [4], 70);
        Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b", "c"], "y")], [("a", a), ("b", b), ("c", c)], [("y", type)]));
    }

    [Fact]
    public void MaxAndMinPropagateNaN()
    {
        var a = Tensor.FromDoubles([1, double.NaN, 3, double.NaN], 4);
        var b = Tensor.FromDoubles([double.NaN, 2, 1, double.NaN], 4);
        foreach (var op in new[] { "Max", "Min" })
        {
            Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b"], "y")], [("a", a), ("b", b)], [("y", F64)]));
            var floats = TypedOps.Cast(a, F32);
            Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b"], "y")], [("a", floats), ("b", TypedOps.Cast(b, F32))], [("y", F32)]));
        }
    }

    [Fact]
    public void UndefinedCasesAreRefusedInOneLine()
    {
        var context = new OpContext(false, new Rng(1));
        var floats = Tensor.FromDoubles([1.5, -2], 2);
        var ints = Tensor.FromInt64s([5, 3], I32, 2);
        Tensor[] Run(string op, Tensor?[] inputs, params (string, AttributeValue)[] attributes) =>
            GraphOps.Run(new Node("n", op, ["a", "b"], ["y"], attributes.ToDictionary(a => a.Item1, a => a.Item2)), inputs, context);
        var cases = new Func<Tensor[]>[]
        {
            () => Run(OpTypes.Mod, [floats, floats]), // floats need fmod = 1
            () => Run(OpTypes.Mod, [ints, Tensor.FromInt64s([0, 1], I32, 2)]),
            () => Run(OpTypes.BitShift, [Tensor.FromInt64s([1], U8, 1), Tensor.FromInt64s([1], U8, 1)], ("direction", AttributeValue.String("UP"))),
            () => Run(OpTypes.BitwiseAnd, [floats, floats]),
            () => Run(OpTypes.PRelu, [Tensor.FromDoubles([1], 1), Tensor.FromDoubles([1, 2], 2)]),
        };
        foreach (var run in cases) Assert.DoesNotContain('\n', Assert.Throws<CondenseException>(run).Message);
    }
}
