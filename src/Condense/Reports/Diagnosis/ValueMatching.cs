// Which values of a reference graph a compressed graph also computes, and where the compressed nodes quantize their inputs.
// Matching is by value name, since every pass keeps the names of the values it does not replace:
//  - a node output of the reference that depends on the model's inputs is compared with the compressed value of the same
//    name, unless the compressed model makes it with QuantizeLinear / DynamicQuantizeLinear (integer codes). Condense's
//    Quantizer keeps every layer's node and output names and adds `{node}/input/QuantizeLinear_output_0` and
//    `…/DequantizeLinear_output_0` beside them (docs/quantized-graph.md); batch-norm folding gives the Conv the
//    BatchNormalization's output name; SmoothQuant's divisor is a new `{node}/scale_input` Mul; pruning renames nothing.
//    ONNX Runtime's QDQ tool keeps the producer's name too, or — for a graph output — names the DequantizeLinear's output
//    after it, which then is what is compared (the value as the model's readers see it);
//  - otherwise a compressed QuantizeLinear whose output is the value's name plus `_quantized` (ONNX Runtime's QOperator
//    files, read back as QDQ) or `_QuantizeLinear_Output` (its QDQ files) stands for it: the float value it quantizes is compared;
//  - anything else counts as not found. Values whose shapes differ (channels removed) are listed apart, never compared.
// Outputs of ops that only move or retype values (Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Cast) are
// not compared: they carry their input's error unchanged.
using Condense.Graph;

namespace Condense.Reports.Diagnosis;

/// <summary>
/// A reference value, the compressed value compared with it, the reference node of the layer computing it in the compressed
/// model (with its weight, if any) and that layer's quantized inputs.
/// </summary>
internal sealed record MatchedValue(string Reference, string Compressed, Node Node, string? Weight, IReadOnlyList<QuantizerSite> Sites,
    bool IsOutput);

internal sealed class ValueMatching
{
    private static readonly string[] QuantizedSuffixes = ["_quantized", "_QuantizeLinear_Output"];
    private static readonly HashSet<string> LinearOps = [OpTypes.Gemm, OpTypes.MatMul, OpTypes.Conv];
    private static readonly HashSet<string> MovementOps =
        [OpTypes.Reshape, OpTypes.Transpose, OpTypes.Flatten, OpTypes.Squeeze, OpTypes.Unsqueeze, OpTypes.Identity, OpTypes.Dropout, OpTypes.Cast];

    private ValueMatching(List<MatchedValue> values, int notFound, bool quantized)
    {
        Values = values;
        NotFound = notFound;
        Quantized = quantized;
    }

    /// <summary>The matched values in the reference's graph order.</summary>
    public IReadOnlyList<MatchedValue> Values { get; }

    /// <summary>Reference values that depend on the inputs but have no counterpart in the compressed graph.</summary>
    public int NotFound { get; }

    /// <summary>Whether the compressed graph holds quantization nodes.</summary>
    public bool Quantized { get; }

    public static ValueMatching Build(ModelGraph reference, ModelGraph compressed)
    {
        CheckInputs(reference, compressed);
        var producers = new Dictionary<string, Node>();
        foreach (var node in compressed.Nodes) foreach (var output in node.Outputs) producers.TryAdd(output, node);
        var aliases = new Dictionary<string, string>();
        foreach (var q in compressed.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear))
            foreach (string suffix in QuantizedSuffixes)
                if (q.Outputs[0].EndsWith(suffix, StringComparison.Ordinal) && producers.ContainsKey(q.Inputs[0]))
                    aliases.TryAdd(q.Outputs[0][..^suffix.Length], q.Inputs[0]);
        var byName = new Dictionary<string, Node>();
        foreach (var node in reference.Nodes) byName.TryAdd(node.Name, node);
        var dynamic = reference.Inputs.Select(i => i.Name).ToHashSet();
        var sites = new Dictionary<Node, IReadOnlyList<QuantizerSite>>();
        var values = new List<MatchedValue>();
        int notFound = 0;
        foreach (var node in reference.Nodes)
        {
            if (!node.Inputs.Any(dynamic.Contains)) continue;
            foreach (string output in node.Outputs.Where(o => o.Length > 0)) dynamic.Add(output);
            if (MovementOps.Contains(node.OpType)) continue;
            foreach (string output in node.Outputs.Where(o => o.Length > 0))
            {
                string? match = producers.TryGetValue(output, out var p) && !IsQuantizer(p) ? output : aliases.GetValueOrDefault(output);
                if (match is null) { notFound++; continue; }
                var producer = producers[match];
                if (!sites.TryGetValue(producer, out var found)) sites[producer] = found = Sites(compressed, producers, producer);
                // The layer that computes the value in the compressed model, as the reference names it: a Conv with a batch norm
                // folded into it computes the BatchNormalization's output.
                var layer = byName.GetValueOrDefault(producer.Name) is { } named && named.OpType == producer.OpType ? named : node;
                values.Add(new MatchedValue(output, match, layer, Weight(reference, layer), found, reference.Outputs.Exists(o => o.Name == output)));
            }
        }
        bool quantized = compressed.Nodes.Any(n => n.OpType is OpTypes.QuantizeLinear or OpTypes.DequantizeLinear or OpTypes.DynamicQuantizeLinear);
        return new ValueMatching(values, notFound, quantized);
    }

    // The weight of a Gemm/MatMul/Conv, or the table of an embedding lookup (a Gather from an initializer): the initializer
    // a pass's exclusion names.
    private static string? Weight(ModelGraph graph, Node layer) => layer.OpType switch
    {
        _ when LinearOps.Contains(layer.OpType) && layer.Inputs.Count > 1 && graph.Initializers.ContainsKey(layer.Inputs[1]) => layer.Inputs[1],
        OpTypes.Gather when graph.Initializers.ContainsKey(layer.Inputs[0]) => layer.Inputs[0],
        _ => null,
    };

    private static bool IsQuantizer(Node n) => n.OpType is OpTypes.QuantizeLinear or OpTypes.DynamicQuantizeLinear;

    // The inputs of a compressed node that pass through DequantizeLinear(QuantizeLinear(v)) with a per-tensor scale and
    // zero point held as initializers, or DequantizeLinear(DynamicQuantizeLinear(v)).
    private static List<QuantizerSite> Sites(ModelGraph graph, Dictionary<string, Node> producers, Node node)
    {
        var sites = new List<QuantizerSite>();
        for (int i = 0; i < node.Inputs.Count; i++)
        {
            if (!producers.TryGetValue(node.Inputs[i], out var dq) || dq.OpType != OpTypes.DequantizeLinear) continue;
            if (!producers.TryGetValue(dq.Inputs[0], out var q) || graph.Initializers.ContainsKey(q.Inputs[0])) continue;
            int? axis = i == 0 ? node.OpType switch { OpTypes.Conv => 1, OpTypes.Gemm when node.Int("transA", 0) == 0 => -1, OpTypes.MatMul => -1, _ => null }
                : null;
            if (q.OpType == OpTypes.DynamicQuantizeLinear) sites.Add(new QuantizerSite(q.Inputs[0], null, axis));
            else if (q.OpType == OpTypes.QuantizeLinear && Range(graph, q) is { } range) sites.Add(new QuantizerSite(q.Inputs[0], range, axis));
        }
        return sites;
    }

    // s·(qmin − z) … s·(qmax − z) and the step s of a per-tensor QuantizeLinear, and whether clamping at the low end is
    // saturation (not when z = qmin: the range starts at 0, a ReLU fused into the quantizer); qmin/qmax from the zero point's
    // type (uint8 without one) or Condense's qmin/qmax attributes. Null for per-axis or computed parameters.
    private static (float Low, float High, float Step, bool ClipsBelow)? Range(ModelGraph graph, Node q)
    {
        if (!graph.Initializers.TryGetValue(q.Inputs[1], out var scale) || scale.Size != 1) return null;
        string zeroName = q.Inputs.Count > 2 ? q.Inputs[2] : "";
        float zero = 0;
        var type = ElementType.UInt8;
        if (zeroName.Length > 0)
        {
            if (!graph.Initializers.TryGetValue(zeroName, out var z) || z.Size != 1) return null;
            zero = z.Data[0];
            if (graph.TypeOf(zeroName) != ElementType.Float32) type = graph.TypeOf(zeroName);
        }
        var (min, max) = type.Range();
        min = q.Int("qmin", min);
        max = q.Int("qmax", max);
        float s = scale.Data[0];
        return (s * (min - zero), s * (max - zero), s, zero != min);
    }

    // Both models must read the same inputs: the same names, each with the same known sample dimensions.
    private static void CheckInputs(ModelGraph reference, ModelGraph compressed)
    {
        static string Describe(ModelGraph g) => string.Join(", ", g.Inputs.Select(i => $"'{i.Name}' {i.FormatShape()}"));
        bool same = reference.Inputs.Count == compressed.Inputs.Count && reference.Inputs.All(r =>
            compressed.Inputs.Find(c => c.Name == r.Name) is { } c && c.Shape.Length == r.Shape.Length
            && r.Shape.Skip(1).Zip(c.Shape.Skip(1)).All(d => d.First <= 0 || d.Second <= 0 || d.First == d.Second));
        if (!same)
            throw new CondenseException($"the models take different inputs: the reference {Describe(reference)}, the compressed model {Describe(compressed)}");
    }
}
