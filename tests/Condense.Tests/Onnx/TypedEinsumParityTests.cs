// Einsum against ONNX Runtime for every type both run (float32 through autograd, float64 and the integers through
// the sum over label assignments): contractions, a diagonal, broadcasting and the implicit output.
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public class TypedEinsumParityTests
{
    private static readonly (string Equation, int[][] Shapes)[] Equations =
    [
        ("bij,bjk->bik", [[2, 3, 4], [2, 4, 5]]),
        ("...ii->...i", [[2, 3, 3]]),
        ("i,i", [[6], [6]]),
        ("bn,anm,bm->ba", [[2, 3], [4, 3, 2], [2, 2]]),
        ("...ij,...jk->...ik", [[2, 1, 3, 4], [1, 3, 4, 2]]),
        ("ij->", [[3, 4]]),
    ];

    public static TheoryData<int, DataType> Cases()
    {
        var data = new TheoryData<int, DataType>();
        for (int e = 0; e < Equations.Length; e++)
            foreach (var type in new[] { DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64 }) data.Add(e, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EinsumMatchesOnnxRuntime(int equation, DataType type)
    {
        var (text, shapes) = Equations[equation];
        var inputs = shapes.Select((s, i) => ($"x{i}", TypedParity.Random(type, s, (ulong)(81 + i)))).ToArray();
        var node = Node("Einsum", [.. inputs.Select(i => i.Item1)], "y",
            new global::Onnx.AttributeProto { Name = "equation", Type = global::Onnx.AttributeProto.Types.AttributeType.String,
                S = Google.Protobuf.ByteString.CopyFromUtf8(text) });
        string? mismatch = TypedParity.Mismatch([node], inputs, [("y", type)], 12);
        Assert.True(mismatch is null, mismatch);
    }
}
