// The shared machinery of exports that rewrite a QDQ graph (docs/quantized-graph.md) layer by layer into
// other ONNX operator sets (QOperatorExport, MatMulNBitsExport): read a layer's quantized weight and
// activation parameters, quantize its bias to int32, fuse the QuantizeLinear that follows it, then drop the
// Q/DQ nodes and initializers nothing reads any more.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

/// <summary>A QDQ graph being rewritten; rewriters read it and add initializers, <see cref="Apply"/> rebuilds the node list.</summary>
internal sealed class QdqGraphRewrite
{
    private readonly string _what;
    private readonly HashSet<Node> _absorbed = [];

    private QdqGraphRewrite(ModelGraph graph, string what)
    {
        Graph = graph;
        _what = what;
    }

    /// <summary>The graph (a copy of the input) being rewritten.</summary>
    public ModelGraph Graph { get; }

    /// <summary>Runs the rewriters on a copy of <paramref name="qdq"/> and returns it cleaned of dead Q/DQ nodes and initializers.</summary>
    public static ModelGraph Apply(ModelGraph qdq, string what, IReadOnlyDictionary<string, Func<QdqGraphRewrite, Node, List<Node>?>> rewriters)
    {
        qdq.Validate();
        var r = new QdqGraphRewrite(qdq.Clone(), what);
        var replacements = new Dictionary<Node, List<Node>>();
        foreach (var node in r.Graph.Nodes)
            if (rewriters.TryGetValue(node.OpType, out var rewrite) && rewrite(r, node) is { } nodes) replacements[node] = nodes;
        if (replacements.Count == 0) throw r.Error("the graph has no quantized layer to convert (no Gemm reads a DequantizeLinear weight)");
        var rebuilt = new List<Node>();
        foreach (var node in r.Graph.Nodes)
        {
            if (r._absorbed.Contains(node)) continue;
            if (replacements.TryGetValue(node, out var nodes)) rebuilt.AddRange(nodes);
            else rebuilt.Add(node);
        }
        r.Graph.Nodes.Clear();
        r.Graph.Nodes.AddRange(rebuilt);
        r.Graph.RemoveUnused();
        r.Graph.Validate();
        return r.Graph;
    }

    /// <summary>A one-line error prefixed with what is being exported.</summary>
    public CondenseException Error(string message) => new($"{_what}: {message}");

    /// <summary>The DequantizeLinear of a constant integer weight that <paramref name="layer"/>'s input 1 reads, or null (float weight).</summary>
    public Node? QuantizedWeight(Node layer)
    {
        if (layer.Inputs.Count < 2 || Graph.Producer(layer.Inputs[1]) is not { OpType: OpTypes.DequantizeLinear } dq) return null;
        if (!Graph.Initializers.ContainsKey(dq.Inputs[0])) return null;   // fake quantization (QAT): a float weight
        foreach (int i in new[] { 1, 2 })
            if (i < dq.Inputs.Count && dq.Inputs[i].Length > 0 && !Graph.Initializers.ContainsKey(dq.Inputs[i]))
                throw Error($"the weight quantization '{dq.Name}' of layer '{layer.Name}' has a non-constant input '{dq.Inputs[i]}'");
        return dq;
    }

    /// <summary>Throws unless <paramref name="gemm"/> is a Linear layer: transA = 0, transB = 1, alpha = beta = 1.</summary>
    public void CheckLinear(Node gemm)
    {
        if (gemm.Int("transA", 0) != 0 || gemm.Int("transB", 0) != 1 || gemm.Float("alpha", 1f) != 1f || gemm.Float("beta", 1f) != 1f)
            throw Error($"layer '{gemm.Name}' is not a Linear Gemm (needs transA = 0, transB = 1, alpha = beta = 1)");
    }

    /// <summary>The scalar scale of a static activation DequantizeLinear and the name of its uint8 zero point (created if omitted).</summary>
    public (float Scale, string ZeroPoint) ActivationParams(Node dq)
    {
        if (!Graph.Initializers.TryGetValue(dq.Inputs[1], out var scale) || scale.Size != 1)
            throw Error($"'{dq.Name}' needs one constant activation scale");
        if (dq.Inputs.Count > 2 && dq.Inputs[2].Length > 0)
        {
            if (Graph.TypeOf(dq.Inputs[2]) != ElementType.UInt8)
                throw Error($"'{dq.Name}' quantizes activations to {Graph.TypeOf(dq.Inputs[2])}; QGemm here takes uint8");
            return (scale.Data[0], dq.Inputs[2]);
        }
        return (scale.Data[0], AddInitializer(dq.Name + ".zero_point", Tensor.Scalar(0f), ElementType.UInt8));
    }

    /// <summary>The weight's zero point input, created as int8 zeros shaped like the scale if omitted.</summary>
    public string WeightZeroPoint(Node dq)
    {
        if (dq.Inputs.Count > 2 && dq.Inputs[2].Length > 0) return dq.Inputs[2];
        var scale = Graph.Initializers[dq.Inputs[1]];
        return AddInitializer(dq.Inputs[0] + ".zero_point", new Tensor(new float[scale.Size], scale.Shape), ElementType.Int8);
    }

    /// <summary>One weight scale per output channel (a per-tensor scale repeated).</summary>
    public float[] PerChannelScales(Node dq, int channels)
    {
        var scale = Graph.Initializers[dq.Inputs[1]];
        if (scale.Size == 1) return Enumerable.Repeat(scale.Data[0], channels).ToArray();
        if (scale.Size != channels || dq.Int("axis", 1) != 0)
            throw Error($"'{dq.Name}' has {scale.Size} weight scales; expected one per tensor or one per output channel (axis 0) of {channels}");
        return scale.Data;
    }

    /// <summary>
    /// The layer's float bias quantized to int32 with scale s_x·s_w[o] and zero point 0 — the same rounding as
    /// the integer engine (IntegerModel.Compile: round half to even of b / (s_x·s_w) in double) — or "" without bias.
    /// </summary>
    public string Int32Bias(Node layer, float inputScale, float[] weightScale)
    {
        if (layer.Inputs.Count < 3 || layer.Inputs[2].Length == 0) return "";
        if (!Graph.Initializers.TryGetValue(layer.Inputs[2], out var b) || Graph.TypeOf(layer.Inputs[2]) != ElementType.Float32 || b.Size != weightScale.Length)
            throw Error($"layer '{layer.Name}': the bias must be a float initializer with {weightScale.Length} values");
        var bias = new float[b.Size];
        for (int o = 0; o < bias.Length; o++)
        {
            double accScale = (double)inputScale * weightScale[o];
            double q = Math.Round(b.Data[o] / accScale, MidpointRounding.ToEven);
            if (!(Math.Abs(q) <= int.MaxValue))
                throw Error($"layer '{layer.Name}': bias[{o}] = {b.Data[o]:G6} is {q:G3} steps of s_x·s_w = {accScale:G3}, beyond int32");
            bias[o] = (float)q;   // exact up to 2^24; beyond, float32 keeps 24 significant bits (a relative 6e-8)
        }
        return AddInitializer(layer.Name + ".bias_quantized", new Tensor(bias, [bias.Length]), ElementType.Int32);
    }

    /// <summary>
    /// Where a static layer writes: when its output (through an optional Relu) is read only by a uint8 per-tensor
    /// QuantizeLinear, the layer takes over that Q's output and (s_y, z_y), and the Relu and Q are absorbed. A Relu
    /// is fused only when z_y = 0, where the saturation at 0 that requantization does is exactly ReLU (the engine
    /// clamps at z_y). Otherwise the layer writes its float output and the Relu/Q stay.
    /// </summary>
    public (string Output, Node? Quantize) FusedOutput(Node layer)
    {
        string value = layer.Outputs[0];
        var graphOutputs = Graph.Outputs.Select(o => o.Name).ToHashSet();
        Node? relu = null;
        if (SoleConsumer(value) is { OpType: OpTypes.Relu } r && !graphOutputs.Contains(value)) { relu = r; value = r.Outputs[0]; }
        if (graphOutputs.Contains(value) || SoleConsumer(value) is not { OpType: OpTypes.QuantizeLinear } q
            || q.Attributes.ContainsKey("qmin") || q.Attributes.ContainsKey("qmax")
            || q.Inputs.Count < 3 || !Graph.Initializers.TryGetValue(q.Inputs[1], out var scale) || scale.Size != 1
            || !Graph.Initializers.TryGetValue(q.Inputs[2], out var zeroPoint) || zeroPoint.Size != 1 || Graph.TypeOf(q.Inputs[2]) != ElementType.UInt8
            || (relu is not null && zeroPoint.Data[0] != 0f))
            return (layer.Outputs[0], null);
        if (relu is not null) _absorbed.Add(relu);
        _absorbed.Add(q);
        return (q.Outputs[0], q);
    }

    /// <summary>Marks <paramref name="node"/> as taken over by a rewrite: it is dropped from the rebuilt graph.</summary>
    public void Absorb(Node node) => _absorbed.Add(node);

    /// <summary>Adds an initializer under a fresh name derived from <paramref name="name"/> and returns that name.</summary>
    public string AddInitializer(string name, Tensor value, ElementType type)
    {
        string unique = name;
        for (int i = 1; Graph.Initializers.ContainsKey(unique); i++) unique = $"{name}_{i}";
        Graph.Initializers[unique] = value;
        if (type != ElementType.Float32) Graph.ElementTypes[unique] = type;
        return unique;
    }

    private Node? SoleConsumer(string value)
    {
        var consumers = Graph.Consumers(value).ToList();
        return consumers.Count == 1 ? consumers[0] : null;
    }
}
