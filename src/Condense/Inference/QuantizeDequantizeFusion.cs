// A static-quantized graph that no integer engine takes runs as its float simulation, where every layer input goes through
// QuantizeLinear (codes held as an integer tensor) and DequantizeLinear (back to floats): three passes and an integer
// tensor per activation. Each such pair with one scale and zero point becomes one QuantizeDequantizeLinear node, the
// same bits in one pass (Kernels/Int8Gemm/QuantizeLinear.RoundTrip), and so does a DynamicQuantizeLinear that only a
// DequantizeLinear of its codes reads (a dynamically quantized Conv's input: one DynamicQuantizeDequantizeLinear; ViT-B/16's
// patch embedding took 2.9 ms of 45 in those two nodes). A weight's DequantizeLinear (every input a constant) becomes the
// float initializer it computes, so that a convolution reads its weight as in a float graph: its chain
// (batch norm, activation, residual) fuses and a graph of 1×1 and depthwise layers runs channels-last, the fused pairs
// being elementwise. Those ran as their own constant steps, each convolution alone and channels-first.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Fuses the activation QuantizeLinear → DequantizeLinear pairs of a QDQ graph.</summary>
internal static class QuantizeDequantizeFusion
{
    /// <summary>A copy of <paramref name="graph"/> (sharing its initializers) with the pairs fused; null when none fuses.</summary>
    public static ModelGraph? Fuse(ModelGraph graph)
    {
        var pattern = new GraphPattern(graph);
        var replacements = new Dictionary<Node, IReadOnlyList<Node>>();
        var folded = new Dictionary<string, Tensor>();
        foreach (var dequantize in graph.Nodes.Where(n => n.OpType == OpTypes.DequantizeLinear && n.Outputs.Count == 1 && IsConstant(graph, n)
            && !pattern.IsGraphOutput(n.Outputs[0])))
        {
            var inputs = dequantize.Inputs.Select(i => i.Length == 0 ? null : graph.Initializers[i]).ToArray();
            folded[dequantize.Outputs[0]] = GraphOps.Run(dequantize, inputs, FoldContext)[0];
            replacements[dequantize] = [];
        }
        foreach (var dynamic in graph.Nodes.Where(n => n.OpType == OpTypes.DynamicQuantizeLinear && n.Outputs.Count == 3))
        {
            var readers = dynamic.Outputs.SelectMany(pattern.ReadersOf).Distinct().ToList();
            if (readers.Count == 0 || dynamic.Outputs.Any(pattern.IsGraphOutput)
                || !readers.All(d => d.OpType == OpTypes.DequantizeLinear && d.Inputs.SequenceEqual(dynamic.Outputs))) continue;
            foreach (var dequantize in readers)
                replacements[dequantize] = [new Node(dequantize.Name, OpTypes.DynamicQuantizeDequantizeLinear, [dynamic.Inputs[0]], dequantize.Outputs)];
        }
        foreach (var quantize in graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear))
        {
            var readers = pattern.ReadersOf(quantize.Outputs[0]).ToList();
            if (Range(graph, quantize) is not { } range || pattern.IsGraphOutput(quantize.Outputs[0]) || graph.Initializers.ContainsKey(quantize.Inputs[0])
                || readers.Count == 0 || !readers.All(d => d.OpType == OpTypes.DequantizeLinear && SameAffine(graph, quantize, d)))
                continue;
            var attributes = new Dictionary<string, AttributeValue> { ["qmin"] = AttributeValue.Int(range.Min), ["qmax"] = AttributeValue.Int(range.Max) };
            foreach (var dequantize in readers)
                replacements[dequantize] = [new Node(dequantize.Name, OpTypes.QuantizeDequantizeLinear, [quantize.Inputs[0], .. quantize.Inputs.Skip(1)],
                    dequantize.Outputs, attributes)];
        }
        return replacements.Count == 0 ? null : GraphPattern.Rewrite(graph, replacements, folded);
    }

    private static readonly OpContext FoldContext = new(false, new Rng(0));

    // Every input an initializer that training does not change (the runner's own test for a constant step).
    private static bool IsConstant(ModelGraph graph, Node node) =>
        node.Inputs.Any(i => i.Length > 0) && node.Inputs.All(i => i.Length == 0 || graph.Initializers.ContainsKey(i) && !graph.Trainable.Contains(i));

    // The codes' range of a per-tensor QuantizeLinear of 8-bit codes (its qmin/qmax when narrower); null for anything else.
    private static (int Min, int Max)? Range(ModelGraph graph, Node quantize)
    {
        if (quantize.Inputs.Count < 2 || !OneValue(graph, quantize.Inputs[1])) return null;
        string zeroPoint = quantize.Inputs.Count > 2 ? quantize.Inputs[2] : "";
        if (zeroPoint.Length > 0 && !OneValue(graph, zeroPoint)) return null;
        var type = zeroPoint.Length > 0 ? graph.TypeOf(zeroPoint) : ElementType.UInt8;
        if (type is not (ElementType.UInt8 or ElementType.Int8)) return null;
        var (min, max) = type.Range();
        return ((int)quantize.Int("qmin", min), (int)quantize.Int("qmax", max));
    }

    private static bool OneValue(ModelGraph graph, string name) => graph.Initializers.TryGetValue(name, out var t) && t.Size == 1;

    // The DequantizeLinear reads the codes with the scale and zero point they were made with (the same names, or equal values).
    private static bool SameAffine(ModelGraph graph, Node quantize, Node dequantize)
    {
        if (dequantize.Int("block_size", 0) != 0 || dequantize.Inputs.Count < 2) return false;
        string Input(Node n, int i) => n.Inputs.Count > i ? n.Inputs[i] : "";
        return Same(Input(quantize, 1), Input(dequantize, 1)) && Same(Input(quantize, 2), Input(dequantize, 2));

        bool Same(string a, string b) => a == b || a.Length > 0 && b.Length > 0 && OneValue(graph, a) && OneValue(graph, b)
            && graph.Initializers[a].GetDouble(0) == graph.Initializers[b].GetDouble(0) && graph.TypeOf(a) == graph.TypeOf(b);
    }
}
