// Weight-shared models are saved packed: each shared tensor as a float32 codebook plus bit-packed b-bit
// indices (SparseStorage's codebook forms). The oracle is the model in memory before saving: the loaded
// weights and predictions must be bit for bit the same, and the file several times smaller than dense.
using System.Text.Json;
using Condense.DeepCompression;
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Formats;

namespace Condense.Tests.DeepCompression;

public sealed class PackedSharingTests : IDisposable
{
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static GraphModule Mlp() => new(GraphTracer.Trace(ModelSpec.Parse("mlp:784-128-10").Build(3), [784]));

    private static void AssertSameModel(GraphModule expected, GraphModule actual)
    {
        foreach (var (name, t) in expected.Graph.Initializers)
        {
            var bitsExpected = t.Data.Select(BitConverter.SingleToUInt32Bits);
            Assert.True(bitsExpected.SequenceEqual(actual.Graph.Initializers[name].Data.Select(BitConverter.SingleToUInt32Bits)), name);
        }
        var x = Tensor.Uniform(new Rng(8), 0f, 1f, 16, 784);
        expected.Eval();
        actual.Eval();
        Assert.Equal(expected.Forward(x).Data, actual.Forward(x).Data);
    }

    private static Dictionary<string, JsonElement> StorageOf(string path) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(SafeTensors.ReadHeader(path).Metadata[SparseStorage.MetadataKey])!;

    [Fact]
    public void FiveBitSharedMlpIsThreeTimesSmallerThanDenseAndLoadsBackIdentically()
    {
        var model = Mlp();
        var shared = WeightSharing.Apply(model, 5);
        var names = shared.Entries.Select(e => e.Target.Name).ToList();
        string dense = _dir.File("dense.safetensors"), packed = _dir.File("packed.safetensors");
        Checkpoint.Save(model.Graph, dense);
        Checkpoint.Save(model.Graph, packed, codebook: names);

        long denseBytes = new FileInfo(dense).Length, packedBytes = new FileInfo(packed).Length;
        Assert.True(packedBytes * 3 < denseBytes, $"packed {packedBytes} bytes, dense {denseBytes}");
        // 5-bit indices: the weights take 5/32 of their float32 size, plus a 32-value codebook each.
        long weights = names.Sum(n => (long)model.Graph.Initializers[n].Size);
        // (The rest of the file, header and biases, is about the same in both; 1 KiB covers the longer header.)
        Assert.True(packedBytes < denseBytes - 4 * weights + weights * 5 / 8 + 2 * 32 * 4 + 1024, $"packed {packedBytes} bytes");
        var storage = StorageOf(packed);
        foreach (var name in names)
        {
            Assert.Equal("codebook", storage[name].GetProperty("Format").GetString());
            Assert.Equal(5, storage[name].GetProperty("Bits").GetInt32());
        }
        AssertSameModel(model, Checkpoint.Load(packed));
    }

    [Fact]
    public void PrunedSharedTensorsKeepTheirZerosAndIndexOnlyTheNonZeros()
    {
        var model = Mlp();
        var rng = new Rng(2);
        foreach (var name in new[] { "1.weight", "3.weight" })
        {
            var w = model.Graph.Initializers[name].Data;
            for (int i = 0; i < w.Length; i++) if (rng.NextDouble() < 0.9) w[i] = 0f;
        }
        var shared = WeightSharing.Apply(model, 4);
        string plain = _dir.File("pruned.safetensors"), packed = _dir.File("pruned-packed.safetensors");
        Checkpoint.Save(model.Graph, plain);
        Checkpoint.Save(model.Graph, packed, codebook: shared.Entries.Select(e => e.Target.Name).ToList());
        Assert.Equal("bitmap_codebook", StorageOf(packed)["1.weight"].GetProperty("Format").GetString());
        // Sparse float storage already drops the zeros; the codebook still saves the values' 32 → 4 bits.
        Assert.True(new FileInfo(packed).Length * 2 < new FileInfo(plain).Length);
        AssertSameModel(model, Checkpoint.Load(packed));
    }

    [Fact]
    public void CodebookKeepsNegativeZeroAndNaNBitForBit()
    {
        float[] pattern = [-0f, 1f, float.NaN, 0f, 1f, -0f, 2.5f, 0f];
        var t = new Tensor(Enumerable.Repeat(pattern, 64).SelectMany(p => p).ToArray(), 8, 64);
        var (entries, metadata) = SparseStorage.Encode([new("w", t)], codebook: ["w"]);
        Assert.Contains(entries, e => e.Name == "w.__codes");
        string path = _dir.File("signs.safetensors");
        SafeTensors.Write(path, entries, metadata);
        var decoded = SparseStorage.Decode(SafeTensors.Read(path))["w"];
        Assert.Equal(t.Data.Select(BitConverter.SingleToUInt32Bits), decoded.Data.Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void TensorsWithManyDistinctValuesOrNotNamedStayFloat()
    {
        var many = Tensor.Uniform(new Rng(1), -1f, 1f, 40, 40);
        var few = new Tensor(Enumerable.Range(0, 1600).Select(i => (float)(i % 7 + 1)).ToArray(), 40, 40);
        var (entries, _) = SparseStorage.Encode([new("many", many), new("few", few), new("unnamed", few)], codebook: ["many", "few"]);
        Assert.Equal(["many", "few.__codebook", "few.__codes", "unnamed"], entries.Select(e => e.Name));
        Assert.Equal(7, entries[1].ElementCount);
        Assert.Equal(BitPackingBytes(1600, 3), entries[2].Data.Length);
    }

    private static long BitPackingBytes(long count, int bits) => (count * bits + 7) / 8;

    [Theory]
    [InlineData("codebook", 2, new float[] { 1f, 2f, 3f }, new byte[] { 0b11 }, "index 3 outside a codebook of 3")]
    [InlineData("codebook", 9, new float[] { 1f }, new byte[] { 0 }, "9 bits per codebook index")]
    [InlineData("codebook", 1, new float[] { 1f, 2f, 3f }, new byte[] { 0 }, "codebook of 3 values for 1-bit indices")]
    [InlineData("codebook", 2, new float[] { 1f, 2f }, new byte[] { 0, 0 }, "2 bytes of codes")]
    public void CorruptCodebookPartsAreOneLineFileErrors(string format, int bits, float[] codebook, byte[] codes, string fault)
    {
        string path = _dir.File("corrupt.safetensors");
        var sparse = "{\"w\":{\"Format\":\"" + format + "\",\"Shape\":[1],\"Bits\":" + bits + "}}";
        SafeTensors.Write(path, [SafeTensorEntry.FromFloat("w.__codebook", new Tensor(codebook, codebook.Length)),
            SafeTensorEntry.FromUInt8("w.__codes", codes, codes.Length)], new Dictionary<string, string> { [SparseStorage.MetadataKey] = sparse });
        var e = Assert.Throws<InvalidFileException>(() => SparseStorage.Decode(SafeTensors.Read(path)));
        Assert.Contains(fault, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
