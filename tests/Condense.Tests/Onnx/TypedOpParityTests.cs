// The typed ops against ONNX Runtime for every element type they allow: arithmetic (integers wrap, division
// truncates), comparisons, logic, Where and Cast between every pair of types; and the integer cases of issue 13's
// table, where computing in float32 gave silently wrong answers.
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class TypedOpParityTests
{
    private static readonly DataType[] Numeric = [.. DataTypes.All.Where(t => t != DataType.Bool)];

    public static TheoryData<string, DataType> ArithmeticCases()
    {
        var data = new TheoryData<string, DataType>();
        // ONNX Runtime 1.31 registers these kernels for these types only; Condense runs the rest too.
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div" })
            foreach (var t in new[] { DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64 }) data.Add(op, t);
        return data;
    }

    [Theory]
    [MemberData(nameof(ArithmeticCases))]
    public void ArithmeticMatchesOnnxRuntime(string op, DataType type)
    {
        var a = TypedParity.Random(type, [3, 4], 1);
        var b = TypedParity.Random(type, [4], 2, low: 0.5, high: 2);
        if (op == "Div" && !type.IsFloat()) b = NonZero(b);
        Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b"], "y")], [("a", a), ("b", b)], [("y", type)]));
    }

    public static TheoryData<string, DataType> ComparisonCases()
    {
        var data = new TheoryData<string, DataType>();
        foreach (var op in new[] { "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual" })
            foreach (var t in new[] { DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64 }) data.Add(op, t);
        data.Add("Equal", DataType.Bool);
        return data;
    }

    [Theory]
    [MemberData(nameof(ComparisonCases))]
    public void ComparisonMatchesOnnxRuntime(string op, DataType type)
    {
        // Small integers so that equal pairs occur.
        var a = TypedParity.Random(type, [3, 4], 3, low: -2, high: 2);
        var b = TypedParity.Random(type, [4], 4, low: -2, high: 2);
        if (type.IsFloat()) { a = TypedOps.Cast(TypedOps.Cast(a, DataType.Int32), type); b = TypedOps.Cast(TypedOps.Cast(b, DataType.Int32), type); }
        Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b"], "y")], [("a", a), ("b", b)], [("y", DataType.Bool)], opset: 16));
    }

    [Theory]
    [InlineData("And")]
    [InlineData("Or")]
    [InlineData("Xor")]
    public void LogicMatchesOnnxRuntime(string op)
    {
        var a = TypedParity.Random(DataType.Bool, [2, 3, 4], 5);
        var b = TypedParity.Random(DataType.Bool, [3, 1], 6);
        var nodes = new[] { Node(op, ["a", "b"], "c"), Node("Not", ["c"], "y") };
        Assert.Null(TypedParity.Mismatch(nodes, [("a", a), ("b", b)], [("y", DataType.Bool)]));
    }

    // The types ONNX Runtime 1.31 has a Where kernel for.
    public static TheoryData<DataType> WhereTypes() =>
        [.. DataTypes.All.Where(t => t is not (DataType.BFloat16 or DataType.Int16 or DataType.UInt16 or DataType.Bool or DataType.UInt64))];

    [Theory]
    [MemberData(nameof(WhereTypes))]
    public void WhereMatchesOnnxRuntime(DataType type)
    {
        var condition = TypedParity.Random(DataType.Bool, [3, 1], 7);
        var x = TypedParity.Random(type, [3, 4], 8);
        var y = TypedParity.Random(type, [4], 9);
        Assert.Null(TypedParity.Mismatch([Node("Where", ["c", "x", "y"], "z")], [("c", condition), ("x", x), ("y", y)], [("z", type)], opset: 16));
    }

    public static TheoryData<DataType, DataType> CastPairs()
    {
        var data = new TheoryData<DataType, DataType>();
        foreach (var from in DataTypes.All)
            foreach (var to in DataTypes.All)
                if (from != to) data.Add(from, to);
        return data;
    }

    [Theory]
    [MemberData(nameof(CastPairs))]
    public void CastMatchesOnnxRuntime(DataType from, DataType to)
    {
        // Values every type can hold, and fractions: truncation toward zero is what is checked for floats.
        var x = TypedParity.Random(from, [2, 5], 10, low: -20, high: 100);
        if (!from.IsSignedInteger() && !from.IsFloat() || !to.IsSignedInteger() && !to.IsFloat()) x = Absolute(x);
        if (to.Storage() == TensorStorage.Int64 && to != DataType.Bool && !to.IsSignedInteger() && from.IsFloat()) x = Absolute(x);
        var node = Node("Cast", ["x"], "y", Int("to", to.OnnxCode()));
        Assert.Null(TypedParity.Mismatch([node], [("x", x)], [("y", to)]));
    }

    // The table of issue 13: each was wrong when everything was computed in float32.
    [Theory]
    [InlineData("Add", DataType.UInt8, 200L, 100L)]
    [InlineData("Sub", DataType.UInt8, 5L, 10L)]
    [InlineData("Div", DataType.Int32, 7L, 2L)]
    [InlineData("Div", DataType.Int32, -7L, 2L)]
    [InlineData("Div", DataType.Int64, 1000001L, 2L)]
    [InlineData("Add", DataType.Int64, (1L << 40) + 1, 0L)]
    [InlineData("Mul", DataType.Int32, 4097L, 4097L)]
    [InlineData("Mul", DataType.Int32, 65536L, 65537L)]
    public void IntegerCasesOfTheIssueMatchOnnxRuntime(string op, DataType type, long a, long b)
    {
        var x = Tensor.FromInt64s([a], type, 1);
        var y = Tensor.FromInt64s([b], type, 1);
        // uint8 Add/Sub run on ONNX Runtime only from opset 14.
        Assert.Null(TypedParity.Mismatch([Node(op, ["a", "b"], "c")], [("a", x), ("b", y)], [("c", type)], opset: 14));
    }

    [Fact]
    public void Float64KeepsItsRange()
    {
        var x = Tensor.FromDoubles([1e198, -3e300], 2);
        Assert.Null(TypedParity.Mismatch([Node("Add", ["a", "a"], "y")], [("a", x)], [("y", DataType.Float64)]));
        var y = TypedOps.Add(x, x);
        Assert.Equal(2e198, y.Float64Data[0]);
    }

    private static Tensor NonZero(Tensor t) => Tensor.FromInt64s(t.Int64Data.Select(v => v == 0 ? 1 : v).ToArray(), t.DataType, t.Shape);

    private static Tensor Absolute(Tensor t) => t.DataType.Storage() switch
    {
        TensorStorage.Int64 => Tensor.FromInt64s(t.Int64Data.Select(Math.Abs).ToArray(), t.DataType, t.Shape),
        TensorStorage.Double => Tensor.FromDoubles(t.Float64Data.Select(Math.Abs).ToArray(), t.Shape),
        _ => Tensor.FromFloats(t.Data.Select(Math.Abs).ToArray(), t.DataType, t.Shape),
    };
}
