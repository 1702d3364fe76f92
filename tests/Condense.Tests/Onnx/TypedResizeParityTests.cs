// Resize for the other types ONNX Runtime 1.31 runs it on (int8, uint8, int32, float16): nearest is a pure gather, so
// the values match exactly. (ONNX Runtime has no float64 or int64 Resize, and rounds float16 linear resizing between
// its passes differently.)
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public class TypedResizeParityTests
{
    [Theory]
    [InlineData(DataType.Int8, "nearest")]
    [InlineData(DataType.UInt8, "nearest")]
    [InlineData(DataType.Int32, "nearest")]
    [InlineData(DataType.Float16, "nearest")]
    public void ResizeMatchesOnnxRuntime(DataType type, string mode)
    {
        var x = TypedParity.Random(type, [1, 2, 4, 5], 91);
        var scales = Floats("s", [1, 1, 1.5f, 0.6f], 4);
        var node = Node("Resize", ["x", "", "s"], "y", new global::Onnx.AttributeProto
            { Name = "mode", Type = global::Onnx.AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(mode) });
        string? mismatch = TypedParity.Mismatch([node], [("x", x)], [("y", type)], 13, [scales]);
        Assert.True(mismatch is null, mismatch);
    }
}
