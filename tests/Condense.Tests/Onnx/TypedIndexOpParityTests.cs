// The index family (Graph/Ops/IndexOps) against ONNX Runtime for every element type both run: data movement is
// exact for every type, and the integer outputs (indices, counts) match exactly.
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class TypedIndexOpParityTests
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
}
