// CastLike, Size, EyeLike, NonZero, Compress, Unique, DepthToSpace and SpaceToDepth against ONNX Runtime for the types
// both run.
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public partial class TypedIndexOpParityTests
{
    // ONNX Runtime 1.31 casts between these (its bfloat16 CastLike is not registered for every pair).
    public static TheoryData<DataType, DataType> CastLikePairs()
    {
        var data = new TheoryData<DataType, DataType>();
        DataType[] types = [DataType.Float32, DataType.Float64, DataType.Float16, DataType.Int8, DataType.Int32, DataType.Int64, DataType.UInt8,
            DataType.UInt64, DataType.Bool];
        foreach (var from in types) foreach (var to in types) data.Add(from, to);
        return data;
    }

    [Theory]
    [MemberData(nameof(CastLikePairs))]
    public void CastLikeCastsToTheLikeType(DataType from, DataType to)
    {
        var x = TypedParity.Random(from, [3, 4], 41, low: -100, high: 100);
        var like = TypedParity.Random(to, [2], 42);
        Assert.Null(TypedParity.Mismatch([Node("CastLike", ["x", "like"], "y")], [("x", x), ("like", like)], [("y", to)], opset: 15));
    }

    // ONNX Runtime 1.31's NonZero kernels.
    public static TheoryData<DataType> NonZeroTypes() => [DataType.Float32, DataType.Float16, DataType.Int32, DataType.Int64, DataType.UInt8, DataType.Bool];

    [Theory]
    [MemberData(nameof(NonZeroTypes))]
    public void SizeNonZeroAndCompressReadEveryType(DataType type)
    {
        var x = TypedParity.Random(type, [3, 4], 43, low: -2, high: 2);
        if (type.IsFloat()) x = TypedOps.Cast(TypedOps.Cast(x, DataType.Int32), type); // zeros occur
        var nodes = new[]
        {
            Node("Size", ["x"], "s"), Node("NonZero", ["x"], "nz"), Node("Compress", ["x", "c"], "a", Int("axis", 1)), Node("Compress", ["x", "c"], "f"),
        };
        var condition = Tensor.FromBools([true, false, true, true, false], 5);
        var outputs = new[] { ("s", DataType.Int64), ("nz", DataType.Int64), ("a", type), ("f", type) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x), ("c", condition)], outputs, opset: 11));
    }

    [Fact]
    public void NonZeroOfAScalarHasOneCoordinateRow()
    {
        var nodes = new[] { Node("NonZero", ["x"], "y") };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", Tensor.FromInt64s([5], DataType.Int32))], [("y", DataType.Int64)], opset: 13));
        Assert.Null(TypedParity.Mismatch(nodes, [("x", Tensor.FromInt64s([0], DataType.Int32))], [("y", DataType.Int64)], opset: 13));
    }

    // ONNX Runtime 1.31's EyeLike kernels.
    public static TheoryData<DataType> EyeLikeTypes() => [DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64, DataType.UInt64];

    [Theory]
    [MemberData(nameof(EyeLikeTypes))]
    public void EyeLikeWritesEveryType(DataType type)
    {
        var x = TypedParity.Random(DataType.Float32, [3, 5], 44);
        var nodes = new[] { Node("EyeLike", ["x"], "y", Int("k", -1), Int("dtype", type.OnnxCode())) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("y", type)], opset: 9));
    }

    // ONNX Runtime 1.31's Unique kernels.
    public static TheoryData<DataType> UniqueTypes() => [DataType.Float32, DataType.Float64, DataType.Int8, DataType.Int64];

    [Theory]
    [MemberData(nameof(UniqueTypes))]
    public void UniqueFindsEveryTypeLikeOnnxRuntime(DataType type)
    {
        var x = TypedOps.Cast(TypedOps.Cast(Tensor.FromInt64s([1, 0, 1, 2, 2, 0, 1, 0, 1, 2, 0, 0], DataType.Int64, 4, 3), DataType.Int32), type);
        var outputs = new List<(string, DataType)>();
        var nodes = new List<NodeProto>();
        foreach (var (name, attributes) in new[] { ("s", new[] { Int("sorted", 1) }), ("u", new[] { Int("sorted", 0) }), ("a", new[] { Int("axis", 0) }) })
        {
            var node = Node("Unique", ["x"], name + "y", attributes);
            node.Output.AddRange([name + "i", name + "inv", name + "n"]);
            nodes.Add(node);
            outputs.AddRange([(name + "y", type), (name + "i", DataType.Int64), (name + "inv", DataType.Int64), (name + "n", DataType.Int64)]);
        }
        Assert.Null(TypedParity.Mismatch([.. nodes], [("x", x)], [.. outputs], opset: 11));
    }

    // ONNX Runtime 1.31's DepthToSpace kernels.
    public static TheoryData<DataType> DepthToSpaceTypes() => [DataType.Float32, DataType.Float64, DataType.Float16, DataType.Int8, DataType.UInt8];

    [Theory]
    [MemberData(nameof(DepthToSpaceTypes))]
    public void DepthAndSpaceMoveEveryType(DataType type)
    {
        var x = TypedParity.Random(type, [1, 8, 2, 3], 46, low: -100, high: 100);
        var nodes = new[]
        {
            Node("DepthToSpace", ["x"], "d", Int("blocksize", 2)), Node("SpaceToDepth", ["d"], "s", Int("blocksize", 2)),
            Node("DepthToSpace", ["x"], "c", Int("blocksize", 2), new AttributeProto
            {
                Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("CRD"),
            }),
        };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("d", type), ("s", type), ("c", type)], opset: 13));
    }
}
