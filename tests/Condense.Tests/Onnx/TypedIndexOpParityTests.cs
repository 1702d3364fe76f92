// The index family (Graph/Ops/IndexOps) against ONNX Runtime for every element type both run: data movement is
// exact for every type, and the integer outputs (indices, counts) match exactly.
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public partial class TypedIndexOpParityTests
{
    public static TheoryData<DataType> AllTypes() => [.. DataTypes.All];

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void SliceMovesEveryTypeExactly(DataType type)
    {
        var x = TypedParity.Random(type, [4, 5, 6], 31, low: -100, high: 100);
        var node = Node("Slice", ["x", "starts", "ends", "axes", "steps"], "y");
        var initializers = new[]
        {
            Longs("starts", [-1, 1, 100], 3), Longs("ends", [long.MinValue, long.MaxValue, -7], 3),
            Longs("axes", [0, -2, 2], 3), Longs("steps", [-2, 2, -1], 3),
        };
        Assert.Null(TypedParity.Mismatch([node], [("x", x)], [("y", type)], opset: 13, initializers));
    }

    // ONNX Runtime 1.31 has no bfloat16 Tile kernel.
    public static TheoryData<DataType> TileTypes() => [.. DataTypes.All.Where(t => t != DataType.BFloat16)];

    // ONNX Runtime 1.31's Trilu kernels.
    public static TheoryData<DataType> TriluTypes() => [DataType.Float32, DataType.Float64, DataType.Float16, DataType.Int32, DataType.Int64, DataType.Bool];

    [Theory]
    [MemberData(nameof(TileTypes))]
    public void SplitAndTileMoveEveryTypeExactly(DataType type)
    {
        var x = TypedParity.Random(type, [3, 5], 32, low: -100, high: 100);
        var split = Node("Split", ["x", "sizes"], "a", Int("axis", 1));
        split.Output.Add("b");
        var nodes = new[] { split, Node("Tile", ["b", "repeats"], "y") };
        var initializers = new[] { Longs("sizes", [2, 3], 2), Longs("repeats", [2, 3], 2) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("a", type), ("y", type)], opset: 13, initializers));
    }

    [Theory]
    [MemberData(nameof(TriluTypes))]
    public void TriluKeepsEveryTypeExactly(DataType type)
    {
        var x = TypedParity.Random(type, [2, 4, 5], 33, low: -100, high: 100);
        var nodes = new[] { Node("Trilu", ["x", "k"], "u"), Node("Trilu", ["x", "k"], "l", Int("upper", 0)) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("u", type), ("l", type)], opset: 14, [Longs("k", [-1])]));
    }

    [Theory]
    [InlineData(DataType.Float32, 0.5, 7.3, 0.7)]
    [InlineData(DataType.Float32, 1, -2, -0.1)]
    [InlineData(DataType.Float64, -3.25, 4, 0.3)]
    [InlineData(DataType.Int16, 10, -7, -3)]
    [InlineData(DataType.Int32, -5, 30, 4)]
    [InlineData(DataType.Int64, 3, 9, 3)]
    [InlineData(DataType.Int64, 3, 2, 1)]
    public void RangeMatchesOnnxRuntime(DataType type, double start, double limit, double delta)
    {
        Tensor Value(double v) => TypedOps.Cast(Tensor.FromDoubles([v]), type);
        var inputs = new[] { ("s", Value(start)), ("l", Value(limit)), ("d", Value(delta)) };
        Assert.Null(TypedParity.Mismatch([Node("Range", ["s", "l", "d"], "y")], inputs, [("y", type)], opset: 11));
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void GathersMoveEveryTypeExactly(DataType type)
    {
        var x = TypedParity.Random(type, [2, 3, 4], 34, low: -100, high: 100);
        var nodes = new[] { Node("GatherElements", ["x", "ie"], "e", Int("axis", 2)), Node("GatherND", ["x", "nd"], "n", Int("batch_dims", 1)) };
        var initializers = new[] { Longs("ie", [3, -1, 0, 2, 1, 1, 0, 0, 2, 3, 1, 0], 2, 3, 2), Longs("nd", [2, -1, 0, 1], 2, 1, 2) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("e", type), ("n", type)], opset: 13, initializers));
    }

    public static TheoryData<DataType, string> ScatterCases()
    {
        var data = new TheoryData<DataType, string>();
        foreach (var type in DataTypes.All) data.Add(type, "none");
        // ONNX Runtime 1.31 combines these types (float16 not in ScatterND, nor add and mul in ScatterElements).
        foreach (var type in new[] { DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64 })
            foreach (var reduction in new[] { "add", "mul", "max", "min" }) data.Add(type, reduction);
        return data;
    }

    [Theory]
    [MemberData(nameof(ScatterCases))]
    public void ScattersWriteEveryTypeExactly(DataType type, string reduction)
    {
        var x = TypedParity.Random(type, [3, 4], 35, low: -100, high: 100);
        var u = TypedParity.Random(type, [2, 4], 36, low: -100, high: 100);
        var elements = Node("ScatterElements", ["x", "ie", "u"], "e", Int("axis", 1), Reduction(reduction));
        var nd = Node("ScatterND", ["x", "nd", "u"], "n", Reduction(reduction));
        var initializers = new[] { Longs("ie", [1, 1, 0, -1, 2, 3, 2, 2], 2, 4), Longs("nd", [2, reduction == "none" ? 0 : -1], 2, 1) };
        Assert.Null(TypedParity.Mismatch([elements, nd], [("x", x), ("u", u)], [("e", type), ("n", type)], opset: 18, initializers));
    }

    private static global::Onnx.AttributeProto Reduction(string value) => new()
    {
        Name = "reduction", Type = global::Onnx.AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(value),
    };

    // The value types of ONNX Runtime 1.31's OneHot kernels with int64 indices and depth.
    public static TheoryData<DataType> OneHotTypes() => [DataType.Float32, DataType.Float16, DataType.Int64];

    [Theory]
    [MemberData(nameof(OneHotTypes))]
    public void OneHotWritesEveryTypeExactly(DataType type)
    {
        var indices = Tensor.FromInt64s([0, -1, 2, 7, -5, 3], DataType.Int64, 2, 3);
        var values = TypedParity.Random(type, [2], 37, low: -100, high: 100);
        var nodes = new[] { Node("OneHot", ["i", "d", "v"], "y", Int("axis", 1)) };
        Assert.Null(TypedParity.Mismatch(nodes, [("i", indices), ("v", values)], [("y", type)], opset: 11, [Longs("d", [5], 1)]));
    }

    // ONNX Runtime 1.31's ArgMax/ArgMin kernels.
    public static TheoryData<DataType> ArgTypes() =>
        [DataType.Float32, DataType.Float64, DataType.Float16, DataType.Int8, DataType.UInt8, DataType.Int32, DataType.Int64];

    [Theory]
    [MemberData(nameof(ArgTypes))]
    public void ArgMaxAndArgMinCompareEveryTypeExactly(DataType type)
    {
        // Few distinct values, so ties occur.
        var x = TypedParity.Random(type, [3, 6, 2], 38, low: 0, high: 3);
        if (type.IsFloat()) x = TypedOps.Cast(TypedOps.Cast(x, DataType.Int32), type);
        var nodes = new[]
        {
            Node("ArgMax", ["x"], "a", Int("axis", 1)), Node("ArgMin", ["x"], "b", Int("axis", -1), Int("keepdims", 0)),
            Node("ArgMax", ["x"], "c", Int("axis", 1), Int("select_last_index", 1)), Node("ArgMin", ["x"], "d", Int("select_last_index", 1)),
        };
        var outputs = new[] { ("a", DataType.Int64), ("b", DataType.Int64), ("c", DataType.Int64), ("d", DataType.Int64) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], outputs, opset: 13));
    }

    // ONNX Runtime 1.31's TopK kernels.
    public static TheoryData<DataType> TopKTypes() =>
        [DataType.Float32, DataType.Float64, DataType.Float16, DataType.Int8, DataType.Int16, DataType.UInt8, DataType.Int32, DataType.Int64];

    [Theory]
    [MemberData(nameof(TopKTypes))]
    public void TopKOrdersEveryTypeLikeOnnxRuntime(DataType type)
    {
        var x = TypedParity.Random(type, [2, 9, 3], 39, low: 0, high: 4);
        if (type.IsFloat()) x = TypedOps.Cast(TypedOps.Cast(x, DataType.Int32), type);
        var largest = Node("TopK", ["x", "k"], "v", Int("axis", 1));
        largest.Output.Add("i");
        var smallest = Node("TopK", ["x", "k"], "w", Int("axis", 1), Int("largest", 0));
        smallest.Output.Add("j");
        var outputs = new[] { ("v", type), ("i", DataType.Int64), ("w", type), ("j", DataType.Int64) };
        Assert.Null(TypedParity.Mismatch([largest, smallest], [("x", x)], outputs, opset: 11, [Longs("k", [5], 1)]));
    }

    // ONNX Runtime 1.31's CumSum kernels.
    public static TheoryData<DataType> CumSumTypes() => [DataType.Float32, DataType.Float64, DataType.Float16, DataType.Int32, DataType.Int64];

    [Theory]
    [MemberData(nameof(CumSumTypes))]
    public void CumSumAddsInEveryType(DataType type)
    {
        var x = TypedParity.Random(type, [3, 5], 40, low: -100, high: 100);
        var nodes = new[] { Node("CumSum", ["x", "a"], "y"), Node("CumSum", ["x", "a"], "z", Int("exclusive", 1), Int("reverse", 1)) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("y", type), ("z", type)], opset: 14, [Longs("a", [1])]));
    }
}
