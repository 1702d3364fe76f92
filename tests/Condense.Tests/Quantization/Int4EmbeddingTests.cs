// 4-bit embedding tables: the nibble layout (v + 8, even column low) and its round trip, block scales worked out by hand,
// the quantized graph's rows equal to a Gather from the dequantized table (exactly, for ids of rank 1–3), and ONNX Runtime
// running the exported file to the same numbers; the file re-imported, and a checkpoint reloaded, run the same in Condense.
using Condense.Autograd;
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Quantization;

public sealed class Int4EmbeddingTests
{
    private static readonly QuantizeOptions Int4 = new() { Mode = QuantizationMode.Dynamic, EmbeddingBits = 4, EmbeddingBlockSize = 4 };

    // ids → Gather(table) → e, as exporters write a word-embedding lookup.
    private static GraphModule Lookup(Tensor table, int idRank = 2)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("ids", [.. Enumerable.Repeat(-1, idRank)]) { DataType = "int64" });
        graph.Initializers["embeddings.weight"] = table;
        graph.Trainable.Add("embeddings.weight");
        graph.Nodes.Add(new Node("gather", OpTypes.Gather, ["embeddings.weight", "ids"], ["e"]));
        graph.Outputs.Add(new ValueInfo("e", [.. Enumerable.Repeat(-1, idRank), table.Shape[1]]));
        return new GraphModule(graph);
    }

    private static Tensor Run(GraphModule model, Tensor ids)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        return model.Run(new Dictionary<string, Tensor> { ["ids"] = ids })["e"];
    }

    [Fact]
    public void NibblesHoldValuePlusEightWithTheEvenColumnLow()
    {
        var integers = new Tensor([-8, 7, 0, 1, -1, 3, 6, -7], 2, 4);
        var packed = Int4Embeddings.Pack(integers);
        Assert.Equal(DataType.UInt8, packed.DataType);
        Assert.Equal([2, 2], packed.Shape);
        // (−8 + 8) | (7 + 8) << 4 = 0xF0; 8 | 9 << 4 = 0x98; 7 | 11 << 4 = 0xB7; 14 | 1 << 4 = 0x1E.
        Assert.Equal([0xF0L, 0x98, 0xB7, 0x1E], packed.Int64Data);
        Assert.Equal(integers.Data, Int4Embeddings.Unpack(packed).Data);
    }

    [Fact]
    public void PackingRoundTripsEveryValue()
    {
        var rng = new Rng(1);
        var integers = new Tensor([.. Enumerable.Range(0, 7 * 16).Select(_ => (float)rng.NextInt(16) - 8)], 7, 16);
        Assert.Equal(integers.Data, Int4Embeddings.Unpack(Int4Embeddings.Pack(integers)).Data);
        Assert.Throws<CondenseException>(() => Int4Embeddings.Pack(new Tensor([1, 2, 3], 1, 3)));
        Assert.Throws<CondenseException>(() => Int4Embeddings.Pack(new Tensor([8, 0], 1, 2)));
        Assert.Throws<CondenseException>(() => Int4Embeddings.Pack(new Tensor([0.5f, 0], 1, 2)));
    }

    [Fact]
    public void BlockScalesAreTheBlockMaximumOverSeven()
    {
        // Row 0: blocks [3.5, −7, 1.75, 0] (scale 7 / 7 = 1) and [14, 0, 0, −2] (scale 2); row 1 is zero.
        var table = new Tensor([3.5f, -7, 1.75f, 0, 14, 0, 0, -2, 0, 0, 0, 0, 0, 0, 0, 0], 2, 8);
        var (packed, scales) = Int4Embeddings.Quantize(table, 4);
        Assert.Equal([2, 2], scales.Shape);
        Assert.Equal([1f, 2f, QuantParams.MinScale, QuantParams.MinScale], scales.Data);   // an all-zero block keeps the smallest scale, never 0
        // 3.5 rounds to even (4), 1.75 to 2, −2 / 2 to −1.
        Assert.Equal([4f, -7, 2, 0, 7, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0], Int4Embeddings.Unpack(packed).Data);
        var dequantized = Int4Embeddings.Dequantize(packed, scales);
        var integers = Int4Embeddings.Unpack(packed);
        for (int i = 0; i < 16; i++) Assert.Equal(integers.Data[i] * scales.Data[i / 8 * 2 + i % 8 / 4], dequantized.Data[i]);

        // A block that does not divide the width: one scale per row.
        var (_, perRow) = Int4Embeddings.Quantize(table, 3);
        Assert.Equal([2, 1], perRow.Shape);
        Assert.Equal(2f, perRow.Data[0]);
    }

    public static TheoryData<int[]> IdShapes() => new() { new[] { 6 }, new[] { 2, 3 }, new[] { 1, 2, 3 } };

    [Theory]
    [MemberData(nameof(IdShapes))]
    public void QuantizedGraphGathersTheDequantizedRowsAndOnnxRuntimeAgrees(int[] idShape)
    {
        var table = Tensor.Uniform(new Rng(2), -2, 2, 10, 8);
        var (quantized, layers) = Quantizer.Quantize(Lookup(table, idShape.Length), Int4, null);
        var layer = Assert.Single(layers);
        Assert.Equal(("embeddings.weight", 4), (layer.Weight, layer.Bits));
        var g = quantized.Graph;
        var packed = g.Initializers["embeddings.weight.packed"];
        var scales = g.Initializers["embeddings.weight.scale"];
        Assert.Equal(DataType.UInt8, packed.DataType);
        Assert.Equal([10, 4], packed.Shape);
        Assert.Equal([10, 2], scales.Shape);
        Assert.False(g.Initializers.ContainsKey("embeddings.weight"));

        long[] rows = [3, 0, 9, 3, 7, 1];
        var ids = Tensor.FromInt64s(rows, DataType.Int64, idShape);
        var ours = Run(quantized, ids);
        Assert.Equal([.. idShape, 8], ours.Shape);
        // The float simulation: the dequantized table, gathered.
        var dequantized = Int4Embeddings.Dequantize(packed, scales);
        var expected = rows.SelectMany(r => dequantized.Data.Skip((int)r * 8).Take(8)).ToArray();
        Assert.Equal(expected, ours.Data);
        for (int i = 0; i < expected.Length; i++) Assert.True(MathF.Abs(expected[i] - table.Data[rows[i / 8] * 8 + i % 8]) <= scales.Data.Max() / 2 + 1e-6f);

        var model = OnnxExporter.ToModel(g);
        Assert.True(model.OpsetImport.Single().Version >= 18, $"opset {model.OpsetImport.Single().Version}: BitwiseAnd needs 18");
        var ort = TypedParity.RunOnnxRuntime(model, [("ids", ids)])["e"];
        Assert.Equal(ours.Shape, ort.Shape);
        Assert.Equal(ours.Data, ort.Data);

        string path = OnnxTestModels.Save(model, "int4-embedding");
        try { Assert.Equal(ours.Data, Run(OnnxImporter.Load(path), ids).Data); }
        finally { File.Delete(path); }
        // A checkpoint keeps the packed table as uint8 too.
        string checkpoint = Path.Combine(Path.GetTempPath(), $"int4-embedding-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelFile.Save(g, checkpoint);
            Assert.Equal(ours.Data, Run(ModelFile.Load(checkpoint), ids).Data);
        }
        finally { File.Delete(checkpoint); }
    }

    [Fact]
    public void AnOddWidthKeepsInt8Rows()
    {
        var (quantized, layers) = Quantizer.Quantize(Lookup(Tensor.Uniform(new Rng(3), -1, 1, 4, 5)), Int4, null);
        Assert.Equal(8, Assert.Single(layers).Bits);
        Assert.Equal(ElementType.Int8, quantized.Graph.TypeOf("embeddings.weight.quantized"));
    }

    [Fact]
    public void EmbeddingBitsAreFourOrEight()
    {
        Assert.Contains("embedding bits", Assert.Throws<CondenseException>(() => new QuantizeOptions { EmbeddingBits = 6 }.Validate()).Message);
        Assert.Throws<CondenseException>(() => new QuantizeOptions { EmbeddingBits = 4, EmbeddingBlockSize = 0 }.Validate());
    }
}
