// Round trips through SafeTensors.Write and Read, and a check against a file laid out by hand from the
// spec (the independent oracle): reader and writer must both agree with it byte for byte.
using System.Text;
using Condense.Formats;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class SafeTensorsRoundTripTests : IDisposable
{
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void FloatTensorsAndMetadataRoundTrip()
    {
        var rng = new Rng(3);
        var tensors = new Dictionary<string, Tensor>
        {
            ["layer.weight"] = Tensor.Normal(rng, 0, 1, 7, 33),
            ["scalar"] = Tensor.Scalar(3.5f),
            ["empty"] = Tensor.Zeros(0, 4),
            ["bias"] = Tensor.Uniform(rng, -1, 1, 31),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"\nline" };
        string path = _dir.File("model.safetensors");

        SafeTensors.WriteFloat(path, tensors, metadata);
        var file = SafeTensors.Read(path);

        Assert.Equal(tensors.Keys, file.Tensors.Select(t => t.Name)); // the given order, not sorted
        foreach (var (name, expected) in tensors)
        {
            var actual = file[name].ToFloatTensor();
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data, actual.Data);
        }
        Assert.Empty(file["scalar"].Shape);
        Assert.Equal(metadata, file.Metadata);
    }

    [Fact]
    public void EveryDTypeRoundTripsItsBytes()
    {
        var entries = new List<SafeTensorEntry>
        {
            SafeTensorEntry.FromInt8("i8", [-128, -1, 0, 127], 2, 2),
            SafeTensorEntry.FromUInt8("u8", [0x12, 0xF0, 0xFF], 3),
            SafeTensorEntry.FromInt32("i32", [int.MinValue, -7, int.MaxValue], 3),
            SafeTensorEntry.FromInt64("i64", [long.MinValue, 1L << 40], 1, 2),
            SafeTensorEntry.FromFloat("f16", new Tensor([1f, -2.5f, 0.5f], 3), SafeTensorDType.F16),
            SafeTensorEntry.FromFloat("bf16", new Tensor([1f, -2.5f], 2), SafeTensorDType.BF16),
            SafeTensorEntry.FromFloat("f64", new Tensor([0.25f], 1), SafeTensorDType.F64),
            SafeTensorEntry.FromBytes("bool", SafeTensorDType.BOOL, [2], [1, 0]),
        };
        string path = _dir.File("ints.safetensors");

        SafeTensors.Write(path, entries, metadata: null);
        var file = SafeTensors.Read(path);

        Assert.Empty(file.Metadata);
        foreach (var e in entries)
        {
            var r = file[e.Name];
            Assert.Equal(e.DType, r.DType);
            Assert.Equal(e.Shape, r.Shape);
            Assert.Equal(e.Data, r.Data);
        }
        Assert.Equal(new sbyte[] { -128, -1, 0, 127 }, file["i8"].ToInt8Array());
        Assert.Equal(new byte[] { 0x12, 0xF0, 0xFF }, file["u8"].ToUInt8Array());
        Assert.Equal(new[] { int.MinValue, -7, int.MaxValue }, file["i32"].ToInt32Array());
        Assert.Equal(new[] { long.MinValue, 1L << 40 }, file["i64"].ToInt64Array());
        Assert.Equal(new[] { 1f, -2.5f, 0.5f }, file["f16"].ToFloatTensor().Data);
        Assert.True(file.TryGet("bf16", out var bf16));
        Assert.Equal(new[] { 1f, -2.5f }, bf16.ToFloatTensor().Data);
        Assert.False(file.TryGet("missing", out _));
        Assert.Throws<CondenseException>(() => file["missing"]);
    }

    [Fact]
    public void ReadsAFileLaidOutByHandFromTheSpec()
    {
        const string json = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""";
        string path = _dir.File("hand.safetensors");
        File.WriteAllBytes(path, SafeTensorsTestFiles.Build(json, SafeTensorsTestFiles.OneToFourF32));

        var w = SafeTensors.Read(path)["w"];

        Assert.Equal(SafeTensorDType.F32, w.DType);
        Assert.Equal(new long[] { 2, 2 }, w.Shape);
        var t = w.ToFloatTensor();
        Assert.Equal(new[] { 2, 2 }, t.Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, t.Data);
    }

    [Fact]
    public void WriterProducesTheSpecLayoutWithTheHeaderPaddedTo8Bytes()
    {
        // The JSON is 57 bytes; 7 spaces make the data start at byte 8 + 64 = 72.
        string json = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""" + new string(' ', 7);
        var expected = SafeTensorsTestFiles.Build(json, SafeTensorsTestFiles.OneToFourF32);
        string path = _dir.File("written.safetensors");

        SafeTensors.WriteFloat(path, new Dictionary<string, Tensor> { ["w"] = new([1f, 2f, 3f, 4f], 2, 2) }, null);

        byte[] actual = File.ReadAllBytes(path);
        Assert.Equal(expected, actual);
        Assert.Equal(new byte[] { 64, 0, 0, 0, 0, 0, 0, 0 }, actual[..8]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public void DataStartsAligned(int nameLength)
    {
        string path = _dir.File("aligned.safetensors");
        SafeTensors.WriteFloat(path, new Dictionary<string, Tensor> { [new string('n', nameLength)] = Tensor.Zeros(1) }, null);

        byte[] bytes = File.ReadAllBytes(path);
        long n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
        Assert.Equal(0, (8 + n) % 8);
        Assert.Equal(8 + n + 4, bytes.Length);
        int close = Array.LastIndexOf(bytes, (byte)'}', 8 + (int)n - 1); // the padding is spaces only
        Assert.All(bytes[(close + 1)..(8 + (int)n)], b => Assert.Equal((byte)' ', b));
    }

    [Fact]
    public void ReadHeaderDescribesTheLayoutWithoutTheData()
    {
        string path = _dir.File("h.safetensors");
        SafeTensors.Write(path,
            [SafeTensorEntry.FromUInt8("packed", [1, 2, 3], 3), SafeTensorEntry.FromInt32("zp", [5], 1)],
            new Dictionary<string, string> { ["bits"] = "4" });

        var header = SafeTensors.ReadHeader(path);

        Assert.Equal(["packed", "zp"], header.Tensors.Select(t => t.Name));
        Assert.Equal((0L, 3L), (header.Tensors[0].Begin, header.Tensors[0].End));
        Assert.Equal((3L, 7L), (header.Tensors[1].Begin, header.Tensors[1].End));
        Assert.Equal(7, header.DataLength);
        Assert.Equal(0, header.DataStart % 8);
        Assert.Equal(new FileInfo(path).Length, header.DataStart + header.DataLength);
        Assert.Equal("4", header.Metadata["bits"]);
    }

    [Fact]
    public void NonAsciiNamesAreStoredAsUtf8()
    {
        string path = _dir.File("utf8.safetensors");
        SafeTensors.WriteFloat(path, new Dictionary<string, Tensor> { ["Gewicht.ä"] = Tensor.Scalar(1f) }, null);

        Assert.Contains("\"Gewicht.ä\"", Encoding.UTF8.GetString(File.ReadAllBytes(path)));
        Assert.Equal(1f, SafeTensors.Read(path)["Gewicht.ä"].ToFloatTensor().Item());
    }
}
