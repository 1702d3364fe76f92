// The data-movement ops that existed before typed tensors (Reshape, Transpose, Gather, Concat, Squeeze, Unsqueeze,
// Expand, Identity, Pad, Flatten) move every element type exactly, as ONNX Runtime does.
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class TypedShapeOpParityTests
{
    // ONNX Runtime 1.31 has no bfloat16 Expand kernel.
    public static TheoryData<DataType> Types() => [.. DataTypes.All.Where(t => t != DataType.BFloat16)];

    [Theory]
    [MemberData(nameof(Types))]
    public void ShapeOpsMoveEveryTypeExactly(DataType type)
    {
        var x = TypedParity.Random(type, [2, 3, 4], 21, low: -100, high: 100);
        var nodes = new[]
        {
            Node("Transpose", ["x"], "t", Ints("perm", 2, 0, 1)),
            Node("Reshape", ["t", "shape"], "r"),
            Node("Gather", ["r", "indices"], "g", Int("axis", 1)),
            Node("Concat", ["g", "g"], "c", Int("axis", 0)),
            Node("Unsqueeze", ["c", "axes"], "u"),
            Node("Squeeze", ["u", "axes"], "s"),
            Node("Expand", ["s", "expand"], "e"),
            Node("Flatten", ["e"], "f", Int("axis", 2)),
            Node("Identity", ["f"], "y"),
        };
        var initializers = new[] { Longs("shape", [4, -1], 2), Longs("indices", [5, 0, -1], 3), Longs("axes", [1], 1), Longs("expand", [2, 1, 1], 3) };
        Assert.Null(TypedParity.Mismatch(nodes, [("x", x)], [("y", type)], opset: 13, initializers));
    }

    // ONNX Runtime's Pad kernel covers these types.
    [Theory]
    [InlineData(DataType.Float32)]
    [InlineData(DataType.Float64)]
    [InlineData(DataType.Int32)]
    [InlineData(DataType.Int64)]
    [InlineData(DataType.UInt8)]
    [InlineData(DataType.Int8)]
    [InlineData(DataType.Bool)]
    public void PadMovesEveryTypeExactly(DataType type)
    {
        var x = TypedParity.Random(type, [2, 3], 22, low: -100, high: 100);
        foreach (var mode in new[] { "constant", "edge", "reflect" })
        {
            var node = Node("Pad", ["x", "pads"], "y", new global::Onnx.AttributeProto
            {
                Name = "mode", Type = global::Onnx.AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(mode),
            });
            if (type == DataType.Bool && mode != "constant") continue;
            Assert.Null(TypedParity.Mismatch([node], [("x", x)], [("y", type)], opset: 13, [Longs("pads", [1, 2, 0, 1], 4)]));
        }
    }
}
