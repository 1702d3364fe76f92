// A model of typed values (uint8 input, int64 and float64 constants, bool intermediate) keeps its types through a
// safetensors checkpoint and an ONNX export: the reloaded model's outputs equal ONNX Runtime's on the original.
using Condense.Formats;
using Condense.Inference;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Google.Protobuf;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Formats;

public sealed class TypedRoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-typed").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static global::Onnx.TensorProto Typed(string name, Tensor t) => OnnxTensorWriter.Typed(name, t);

    private static global::Onnx.ModelProto Model() => TypedParity.Model(
        [
            Node("Add", ["a", "bias"], "sum"), Node("Cast", ["sum"], "wide", Int("to", 7)), Node("Mul", ["wide", "scale"], "scaled"),
            Node("Greater", ["scaled", "limit"], "big"), Node("Cast", ["scaled"], "d", Int("to", 11)), Node("Div", ["d", "half"], "halved"),
            Node("Where", ["big", "halved", "d"], "y"),
        ],
        [("a", Tensor.FromInt64s([200, 5, 17, 90], DataType.UInt8, 4))], [("y", DataType.Float64), ("sum", DataType.UInt8)], opset: 14,
        [
            Typed("bias", Tensor.FromInt64s([100], DataType.UInt8, 1)), Typed("scale", Tensor.FromInt64s([(1L << 40) + 3], DataType.Int64, 1)),
            Typed("limit", Tensor.FromInt64s([60L << 40], DataType.Int64)), Typed("half", Tensor.FromDoubles([2.0], 1)),
        ]);

    [Theory]
    [InlineData(".safetensors")]
    [InlineData(".onnx")]
    public void TypesSurviveSavingAndLoading(string extension)
    {
        var proto = Model();
        string original = Path.Combine(_dir, "typed.onnx");
        File.WriteAllBytes(original, proto.ToByteArray());
        var input = Tensor.FromInt64s([201, 6, 17, 250], DataType.UInt8, 4);
        var expected = TypedParity.RunOnnxRuntime(proto, [("a", input)]);

        string saved = Path.Combine(_dir, "saved" + extension);
        ModelFile.Save(ModelFile.Load(original).Graph, saved);
        var reloaded = ModelFile.Load(saved);
        var outputs = ModelRunner.Run(reloaded, new Dictionary<string, Tensor> { ["a"] = input }).Outputs.ToDictionary();
        foreach (var name in expected.Keys) Assert.Null(OnnxConformanceTests.OutputMismatch(extension, name, expected[name], outputs[name]));
        if (extension == ".onnx")
        {
            var again = TypedParity.RunOnnxRuntime(global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(saved)), [("a", input)]);
            foreach (var name in expected.Keys) Assert.Null(OnnxConformanceTests.OutputMismatch("export", name, expected[name], again[name]));
        }
    }
}
