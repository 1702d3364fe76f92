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
}
