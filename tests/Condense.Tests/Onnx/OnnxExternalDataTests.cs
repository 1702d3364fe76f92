// Weights stored beside the model (ONNX external data: a location relative to the model's folder, an offset, a length):
// the model moved to external data computes what the same model with its weights inside the file computes, and a missing,
// escaping or short side file is a one-line error naming the tensor.
using Condense.Autograd;
using Condense.Onnx;
using Condense.Tensors;
using Google.Protobuf;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public sealed class OnnxExternalDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-external").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    // y = relu(x · W1) · W2: W1 [4, 3], W2 [3, 2], both with distinct values.
    private static (TensorProto W1, TensorProto W2) Weights()
    {
        TensorProto Tensor(string name, int rows, int columns, float start)
        {
            var t = new TensorProto { Name = name, DataType = OnnxTensors.Float };
            t.Dims.AddRange([rows, columns]);
            var values = Enumerable.Range(0, rows * columns).Select(i => start + 0.25f * i * (i % 2 == 0 ? 1 : -1)).ToArray();
            t.RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray());
            return t;
        }
        return (Tensor("w1", 4, 3, 0.5f), Tensor("w2", 3, 2, -0.3f));
    }

    private static ModelProto TwoLayers(TensorProto w1, TensorProto w2) => Model(
        [Node("MatMul", ["x", "w1"], "h"), Node("Relu", ["h"], "r"), Node("MatMul", ["r", "w2"], "y")], Value("x", -1, 4), Value("y", -1, 2), [w1, w2]);

    // Moves the tensors' bytes into `file` (after `padding` bytes), w1 with an explicit length, w2 running to the end.
    private string External(string location, int padding = 8, long? w2Length = null)
    {
        var (w1, w2) = Weights();
        using (var side = File.Create(Path.Combine(_dir, Path.GetFileName(location))))
        {
            side.Write(new byte[padding]);
            foreach (var (t, length) in new[] { (w1, (long?)w1.RawData.Length), (w2, w2Length) })
            {
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = side.Position.ToString() });
                if (length is { } n) t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = n.ToString() });
                side.Write(t.RawData.Span);
                t.RawData = ByteString.Empty;
                t.DataLocation = TensorProto.Types.DataLocation.External;
            }
        }
        string path = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(path, TwoLayers(w1, w2).ToByteArray());
        return path;
    }

    private static Tensor Run(string path, Tensor x)
    {
        var model = OnnxImporter.Load(path);
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    [Fact]
    public void WeightsBesideTheModelComputeWhatWeightsInsideItDo()
    {
        var (w1, w2) = Weights();
        string inline = Path.Combine(_dir, "inline.onnx");
        File.WriteAllBytes(inline, TwoLayers(w1, w2).ToByteArray());
        var x = new Tensor([1f, -2f, 0.5f, 3f, 0.1f, 0.2f, -0.3f, 0.4f], 2, 4);
        var expected = Run(inline, x);
        Assert.Equal(expected.Data, Run(External("model.onnx.data"), x).Data);
        Assert.Contains(expected.Data, v => v != 0f);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("escaping")]
    [InlineData("short")]
    public void ABadSideFileIsOneLineNamingTheTensor(string kind)
    {
        string path = kind switch
        {
            "escaping" => External("../weights.bin"),
            "short" => External("weights.bin", w2Length: 1000),
            _ => External("weights.bin"),
        };
        if (kind == "missing") File.Delete(Path.Combine(_dir, "weights.bin"));
        var e = Assert.Throws<InvalidFileException>(() => OnnxImporter.Import(path));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(kind == "short" ? "'w2'" : "'w1'", e.Message);
        Assert.Contains(kind switch { "missing" => "does not exist", "escaping" => "not inside the model's folder", _ => "needs bytes" }, e.Message);
    }
}
