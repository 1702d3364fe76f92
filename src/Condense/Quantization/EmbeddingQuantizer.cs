// Embedding tables (a Gather from a float [rows, dim] initializer: a transformer's word, position and token-type
// embeddings) stored as int8 with one symmetric scale per row. The rows are gathered as integers and scaled after the
// gather — Gather(int8) → Cast → Mul(Gather(scales)) — so a run dequantizes only the rows it reads, never the table;
// every op is standard ONNX that ONNX Runtime runs. In all-MiniLM-L6-v2 the word embeddings are half the parameters.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

public static partial class Quantizer
{
    // Gathers along axis 0 from a float 2-D initializer.
    private static IEnumerable<Node> Embeddings(ModelGraph graph) => graph.Nodes.Where(n =>
        n.OpType == OpTypes.Gather && n.Int("axis", 0) == 0 && graph.Initializers.TryGetValue(n.Inputs[0], out var table)
        && table.Rank == 2 && table.DataType == DataType.Float32 && !graph.ElementTypes.ContainsKey(n.Inputs[0]));

    private static QuantizedLayer QuantizeEmbedding(ModelGraph graph, Node gather)
    {
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
}
