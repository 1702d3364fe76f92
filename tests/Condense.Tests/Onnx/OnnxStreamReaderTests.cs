// OnnxStreamReader against Google.Protobuf's own parse (the oracle): on every ONNX file the tests have (PyTorch fixtures,
// the ONNX node tests, all-MiniLM-L6-v2 and the CNTK-exported ResNet-18, whose weights are in float_data) and on
// hand-made messages for the wire-format cases exporters rarely write (raw_data twice, float_data in several runs or
// unpacked, a large raw_data of another type, two graph fields), the model read is the one protobuf reads, with large
// float weights moved into float arrays. Corrupt lengths are refused before anything is allocated.
using Condense.Onnx;
using Condense.Tests.Pretrained;
using Google.Protobuf;
using Onnx;
using Xunit;

namespace Condense.Tests.Onnx;

public sealed class OnnxStreamReaderTests
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");

    public static TheoryData<string> Files()
    {
        var files = new TheoryData<string>();
        foreach (var folder in new[] { "onnx", "onnx-pytorch" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Fixtures, folder), "*.onnx", SearchOption.AllDirectories).Order())
                files.Add(Path.GetRelativePath(Fixtures, file));
        return files;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Fixture_reads_as_protobuf_does(string file) => AssertSameAsProtobuf(File.ReadAllBytes(Path.Combine(Fixtures, file)));

    [Fact]
    public void Every_node_test_model_reads_as_protobuf_does()
    {
        var models = Directory.EnumerateFiles(Path.Combine(Fixtures, "onnx-node"), "model.onnx", SearchOption.AllDirectories).ToList();
        Assert.True(models.Count > 800, $"only {models.Count} node-test models found");
        foreach (var model in models) AssertSameAsProtobuf(File.ReadAllBytes(model));
    }

    [Fact]
    public void Pretrained_models_read_as_protobuf_does_with_their_weights_read_directly()
    {
        // all-MiniLM-L6-v2 keeps its weights in raw_data, CNTK's ResNet-18 in packed float_data.
        foreach (var path in new[] { PretrainedModels.MiniLmOnnx, PretrainedModels.ResNet18Onnx })
        {
            var direct = AssertSameAsProtobuf(File.ReadAllBytes(path));
            long weights = direct.Sum(values => (long)values.Length);
            Assert.True(weights > 10_000_000, $"{Path.GetFileName(path)}: only {weights:N0} values were read directly");
        }
    }

    [Fact]
    public void Raw_data_twice_keeps_the_last()
    {
        var first = Enumerable.Range(0, 2000).Select(i => (float)i).ToArray();
        var second = Enumerable.Range(0, 2000).Select(i => -0.5f * i).ToArray();
        var tensor = Tensor("w", [2000], Bytes(first)) + Field(9, Bytes(second));
        var read = AssertSameAsProtobuf(Model(tensor));
        Assert.Equal(second, Assert.Single(read));
    }

    [Fact]
    public void Float_data_in_several_runs_or_unpacked_appends_in_order()
    {
        var a = Enumerable.Range(0, 1500).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, 1500).Select(i => 0.25f * i).ToArray();
        var header = Convert.ToHexString(new TensorProto { Name = "w", DataType = OnnxTensors.Float, Dims = { 3001 } }.ToByteArray());
        var unpacked = Convert.ToHexString([0x25, .. BitConverter.GetBytes(7.5f)]);  // field 4, wire type 5: one float
        Assert.Equal(a, Assert.Single(AssertSameAsProtobuf(Model(header + Field(4, Bytes(a))))));
        AssertSameAsProtobuf(Model(header + Field(4, Bytes(a)) + Field(4, Bytes(b)) + unpacked));
        AssertSameAsProtobuf(Model(header + unpacked + Field(4, Bytes(a)) + Field(4, Bytes(b))));
        AssertSameAsProtobuf(Model(header + Field(4, Bytes(a)) + unpacked + Field(4, Bytes(b))));
    }

    [Fact]
    public void Large_raw_data_of_another_type_stays_raw_data()
    {
        var longs = Enumerable.Range(0, 1000).Select(i => (long)i * 3).ToArray();
        var tensor = new TensorProto { Name = "shape", DataType = 7, Dims = { 1000 },
            RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(longs.AsSpan())) };
        Assert.Empty(AssertSameAsProtobuf(Model(Convert.ToHexString(tensor.ToByteArray()))));
    }

    [Fact]
    public void Two_graph_fields_merge_as_protobuf_merges()
    {
        var weights = Enumerable.Range(0, 4096).Select(i => (float)Math.Sin(i)).ToArray();
        var graph = new GraphProto { Name = "g", Initializer = { new TensorProto { Name = "a", DataType = 1, Dims = { 4096 },
            RawData = ByteString.CopyFrom(Bytes(weights)) } } };
        var second = new GraphProto { Initializer = { new TensorProto { Name = "b", DataType = 1, Dims = { 2 }, FloatData = { 1f, 2f } } },
            Node = { new NodeProto { OpType = "Relu", Input = { "a" }, Output = { "y" } } } };
        byte[] bytes = [.. new ModelProto { IrVersion = 8, Graph = graph }.ToByteArray(), .. new ModelProto { Graph = second }.ToByteArray()];
        AssertSameAsProtobuf(bytes);
    }

    [Fact]
    public void A_length_beyond_the_file_is_refused_before_allocating()
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Initializer = { new TensorProto { Name = "w", DataType = 1,
            Dims = { 4096 }, RawData = ByteString.CopyFrom(new byte[16384]) } } } }.ToByteArray();
        // Cut inside the raw data, then a claimed length of 2^40 bytes at the start of the graph.
        Assert.Throws<InvalidDataException>(() => OnnxStreamReader.Read(new MemoryStream(model[..^100])));
        byte[] huge = [0x3A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        Assert.Throws<InvalidDataException>(() => OnnxStreamReader.Read(new MemoryStream(huge)));
    }

    // Reads `bytes` both ways and asserts the same model; returns the arrays read directly.
    private static List<float[]> AssertSameAsProtobuf(byte[] bytes)
    {
        var expected = ModelProto.Parser.ParseFrom(bytes);
        var (actual, floats) = OnnxStreamReader.Read(new MemoryStream(bytes));
        var direct = new List<float[]>();
        if (actual.Graph is not null)
            foreach (var tensor in actual.Graph.Initializer)
                if (floats.TryGetValue(tensor, out var values))
                {
                    Assert.True(tensor.RawData.IsEmpty && tensor.FloatData.Count == 0, $"{tensor.Name}: read directly and kept in protobuf too");
                    // Back into the field protobuf had it in, for the comparison.
                    var original = expected.Graph.Initializer.First(t => t.Name == tensor.Name);
                    if (!original.RawData.IsEmpty) tensor.RawData = ByteString.CopyFrom(Bytes(values));
                    else tensor.FloatData.Add(values);
                    direct.Add(values);
                }
        Assert.Equal(expected, actual);
        return direct;
    }

    private static byte[] Bytes(float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    // A FLOAT TensorProto's hex with raw_data.
    private static string Tensor(string name, long[] dims, byte[] raw) =>
        Convert.ToHexString(new TensorProto { Name = name, DataType = OnnxTensors.Float, Dims = { dims }, RawData = ByteString.CopyFrom(raw) }.ToByteArray());

    // A length-delimited field's hex.
    private static string Field(int number, byte[] payload)
    {
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(payload));
        output.Flush();
        return Convert.ToHexString(stream.ToArray());
    }

    // A model whose graph has one initializer, the tensor given as hex.
    private static byte[] Model(string tensorHex)
    {
        byte[] tensor = Convert.FromHexString(tensorHex);
        var graph = Convert.FromHexString(Field(5, tensor));
        byte[] header = new ModelProto { IrVersion = 8 }.ToByteArray();
        return [.. header, .. Convert.FromHexString(Field(7, graph))];
    }
}
