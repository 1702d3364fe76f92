// Embedding tables (a Gather from a float [rows, dim] initializer: a transformer's word, position and token-type
// embeddings) stored as int8 with one symmetric scale per row. The rows are gathered as integers and scaled after the
// gather — Gather(int8) → Cast → Mul(Gather(scales)) — so a run dequantizes only the rows it reads, never the table;
// every op is standard ONNX that ONNX Runtime runs. In all-MiniLM-L6-v2 the word embeddings are half the parameters.
// With 4 bits (QuantizeOptions.EmbeddingBits) the table is a uint8 table of packed nibbles (Int4Embeddings) with a scale
// per block of columns; the gathered bytes are unpacked by BitwiseAnd / BitShift (opset 18) and scaled block by block.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

public static partial class Quantizer
{
    // Gathers along axis 0 from a float 2-D initializer.
    private static IEnumerable<Node> Embeddings(ModelGraph graph) => graph.Nodes.Where(n =>
        n.OpType == OpTypes.Gather && n.Int("axis", 0) == 0 && graph.Initializers.TryGetValue(n.Inputs[0], out var table)
        && table.Rank == 2 && table.DataType == DataType.Float32 && !graph.ElementTypes.ContainsKey(n.Inputs[0]));

    private static QuantizedLayer QuantizeEmbedding(ModelGraph graph, Node gather, QuantizeOptions options)
    {
        // Nibbles pack in pairs: an odd width (no known text encoder has one) keeps the int8 form.
        if (options.EmbeddingBits == 4 && graph.Initializers[gather.Inputs[0]].Shape[1] % 2 == 0)
            return QuantizeEmbedding4(graph, gather, options.EmbeddingBlockSize);
        string g = gather.Name, table = gather.Inputs[0], ids = gather.Inputs[1], output = gather.Outputs[0];
        var weight = graph.Initializers[table];
        var range = QuantRange.Restricted(8);
        var perRow = AffineQuantizer.PerChannel(weight, 0, range, symmetric: true);
        var q = AffineQuantizer.QuantizeToSByte(weight, perRow, 0);
        Add(graph, table + ".quantized", new Tensor(q.Select(v => (float)v).ToArray(), weight.Shape), ElementType.Int8);
        Add(graph, table + ".scale", new Tensor(perRow.Select(p => p.Scale).ToArray(), weight.Shape[0], 1), ElementType.Float32);
        graph.Initializers.Remove(table);
        graph.Trainable.Remove(table);

        string rows = g + "/quantized_rows", scales = g + "/row_scales", floats = g + "/rows_as_float";
        int at = graph.Nodes.IndexOf(gather);
        graph.Nodes.RemoveAt(at);
        graph.Nodes.InsertRange(at,
        [
            new Node(g, OpTypes.Gather, [table + ".quantized", ids], [rows]),
            new Node(g + "/scales", OpTypes.Gather, [table + ".scale", ids], [scales]),
            new Node(g + "/cast", OpTypes.Cast, [rows], [floats], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) }),
            new Node(g + "/scale", OpTypes.Mul, [floats, scales], [output]),
        ]);
        return new QuantizedLayer(g, table, 8, perRow.Min(p => p.Scale), perRow.Max(p => p.Scale), null, null);
    }

    // Gather(packed, ids) [..., dim/2] → low nibble (BitwiseAnd 15) and high nibble (BitShift right 4) → Cast float →
    // Unsqueeze both on a new last axis and Concat: [..., dim/2, 2], the columns in order → Sub 8 → Reshape
    // [..., blocks, block] → Mul by the gathered scales [..., blocks, 1] → Reshape [..., dim]. The shapes come from
    // Shape(ids), so ids of any rank and size run.
    private static QuantizedLayer QuantizeEmbedding4(ModelGraph graph, Node gather, int blockSize)
    {
        string g = gather.Name, table = gather.Inputs[0], ids = gather.Inputs[1], output = gather.Outputs[0];
        var weight = graph.Initializers[table];
        int dim = weight.Shape[1], block = Int4Embeddings.BlockFor(dim, blockSize);
        var (packed, scales) = Int4Embeddings.Quantize(weight, block);
        graph.Initializers[table + ".packed"] = packed;
        Add(graph, table + ".scale", scales, ElementType.Float32);
        graph.Initializers.Remove(table);
        graph.Trainable.Remove(table);

        string Constant(string name, Tensor value)
        {
            graph.Initializers[g + "/" + name] = value;
            return g + "/" + name;
        }
        string U8(string name, long value) => Constant(name, Tensor.FromInt64s([value], DataType.UInt8));
        string I64(string name, params long[] values) => Constant(name, Tensor.FromInt64s(values, DataType.Int64, values.Length));
        string lastAxis = I64("last_axis", -1), blocked = I64("blocked", dim / block, block), width = I64("width", dim);
        var toFloat = new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(1) };
        Node Unsqueeze(string name, string x) => new(g + "/" + name, OpTypes.Unsqueeze, [x, lastAxis], [Out(name)]);
        string Out(string name) => g + "/" + name + "_output_0";

        int at = graph.Nodes.IndexOf(gather);
        graph.Nodes.RemoveAt(at);
        graph.Nodes.InsertRange(at,
        [
            new Node(g, OpTypes.Gather, [table + ".packed", ids], [Out("packed_rows")]),
            new Node(g + "/low", OpTypes.BitwiseAnd, [Out("packed_rows"), U8("low_mask", 15)], [Out("low")]),
            new Node(g + "/high", OpTypes.BitShift, [Out("packed_rows"), U8("nibble_bits", 4)], [Out("high")],
                new Dictionary<string, AttributeValue> { ["direction"] = AttributeValue.String("RIGHT") }),
            new Node(g + "/low_float", OpTypes.Cast, [Out("low")], [Out("low_float")], toFloat),
            new Node(g + "/high_float", OpTypes.Cast, [Out("high")], [Out("high_float")], new Dictionary<string, AttributeValue>(toFloat)),
            Unsqueeze("low_column", Out("low_float")),
            Unsqueeze("high_column", Out("high_float")),
            new Node(g + "/columns", OpTypes.Concat, [Out("low_column"), Out("high_column")], [Out("columns")],
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(-1) }),
            new Node(g + "/centre", OpTypes.Sub, [Out("columns"), Constant("offset", Tensor.Scalar(Int4Embeddings.Offset))], [Out("centre")]),
            new Node(g + "/ids_shape", OpTypes.Shape, [ids], [Out("ids_shape")]),
            new Node(g + "/blocked_shape", OpTypes.Concat, [Out("ids_shape"), blocked], [Out("blocked_shape")],
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(0) }),
            new Node(g + "/blocks", OpTypes.Reshape, [Out("centre"), Out("blocked_shape")], [Out("blocks")]),
            new Node(g + "/scales", OpTypes.Gather, [table + ".scale", ids], [Out("scales")]),
            Unsqueeze("block_scales", Out("scales")),
            new Node(g + "/scale", OpTypes.Mul, [Out("blocks"), Out("block_scales")], [Out("scaled")]),
            new Node(g + "/rows_shape", OpTypes.Concat, [Out("ids_shape"), width], [Out("rows_shape")],
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(0) }),
            new Node(g + "/rows", OpTypes.Reshape, [Out("scaled"), Out("rows_shape")], [output]),
        ]);
        return new QuantizedLayer(g, table, 4, scales.Data.Min(), scales.Data.Max(), null, null);
    }
}
