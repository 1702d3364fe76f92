// The shared steps of QOperatorImport's rewrites: read a node's constant inputs, add the DequantizeLinear of an
// integer input, dequantize an int32 bias into the float bias a QDQ layer carries, and emit the float layer
// with the QuantizeLinear of its output. New values get names no other value has.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

/// <summary>An imported graph whose quantized operators are being rewritten into QDQ form.</summary>
internal sealed class QOperatorRewrite
{
    private readonly HashSet<string> _names;
    private readonly Dictionary<string, Node> _producers = [];

    public QOperatorRewrite(ModelGraph graph, List<Node> nodes)
    {
        Graph = graph;
        _names = [.. graph.Initializers.Keys, .. graph.Inputs.Select(i => i.Name), .. nodes.SelectMany(n => n.Outputs)];
        foreach (var node in nodes)
            foreach (var output in node.Outputs) _producers.TryAdd(output, node);
    }

    /// <summary>The graph: initializers and element types (its node list is not built yet).</summary>
    public ModelGraph Graph { get; }

    /// <summary>The imported node writing <paramref name="value"/>, or null.</summary>
    public Node? Producer(string value) => _producers.GetValueOrDefault(value);

    /// <summary>A one-line error naming the node and its op.</summary>
    public CondenseException Error(Node n, string message) => new($"node '{n.Name}' ({n.OpType}): {message}");

    /// <summary>Throws unless the node has between <paramref name="min"/> and <paramref name="max"/> inputs.</summary>
    public void CheckInputs(Node n, int min, int max)
    {
        int count = n.Inputs.Count;
        while (count > 0 && n.Inputs[count - 1].Length == 0) count--;
        if (n.Inputs.Count < min || count > max) throw Error(n, $"has {n.Inputs.Count} inputs; expected {min} to {max}");
        if (n.Outputs.Count != 1) throw Error(n, $"has {n.Outputs.Count} outputs; expected 1");
    }

    /// <summary>Input <paramref name="index"/>, or null when omitted.</summary>
    public string? Optional(Node n, int index) => index < n.Inputs.Count && n.Inputs[index].Length > 0 ? n.Inputs[index] : null;

    /// <summary>Input <paramref name="index"/> as a constant initializer; a one-line error otherwise.</summary>
    public Tensor Constant(Node n, int index, string what) =>
        Optional(n, index) is { } name && Graph.Initializers.TryGetValue(name, out var t) ? t
            : throw Error(n, $"its {what} must be a constant initializer");

    /// <summary>A name like <paramref name="name"/> that no value has yet, reserved.</summary>
    public string Fresh(string name)
    {
        string unique = name;
        for (int i = 1; _names.Contains(unique); i++) unique = $"{name}_{i}";
        _names.Add(unique);
        return unique;
    }

    /// <summary>Adds an initializer under a fresh name and returns the name.</summary>
    public string AddInitializer(string name, Tensor value, ElementType type)
    {
        string unique = Fresh(name);
        Graph.Initializers[unique] = value;
        if (type != ElementType.Float32) Graph.ElementTypes[unique] = type;
        return unique;
    }

    /// <summary>The name of the float layer that replaces <paramref name="n"/>: the exporter's "/QGemm"-style suffix dropped.</summary>
    public static string LayerName(Node n, string op) =>
        n.Name.EndsWith("/" + n.OpType, StringComparison.Ordinal) ? n.Name[..^(n.OpType.Length + 1)] : $"{n.Name}/{op}";

    /// <summary>
    /// Adds DequantizeLinear(x, scale, zero point[, axis][, block_size]) for the layer replacing <paramref name="n"/>; returns its output.
    /// </summary>
    public string Dequantize(List<Node> nodes, Node n, string what, string x, string scale, string? zeroPoint, int? axis, int blockSize = 0)
    {
        string name = $"{LayerName(n, n.OpType)}/{what}/DequantizeLinear";
        string output = Fresh(name + "_output_0");
        var attributes = new Dictionary<string, AttributeValue>();
        if (axis is int a) attributes["axis"] = AttributeValue.Int(a);
        if (blockSize > 0) attributes["block_size"] = AttributeValue.Int(blockSize);
        nodes.Add(new Node(name, OpTypes.DequantizeLinear, zeroPoint is null ? [x, scale] : [x, scale, zeroPoint], [output], attributes));
        return output;
    }

    /// <summary>
    /// The float bias b = bias32 · inputScale · weightScale[channel] of an int32 bias (zero point 0), as a new trainable
    /// initializer. A per-channel weight scale runs along the bias's last axis (a matrix's columns, a conv's channels).
    /// </summary>
    public string Bias(Node n, string name, float inputScale, Tensor weightScale)
    {
        if (!Graph.Initializers.TryGetValue(name, out var bias)) throw Error(n, $"its bias '{name}' must be a constant initializer");
        int channels = weightScale.Size;
        var shape = channels > 1 && bias.Size == 1 ? [channels] : bias.Shape;
        if (channels > 1 && (shape.Length == 0 || shape[^1] != channels))
            throw Error(n, $"its bias {Shape.Format(bias.Shape)} does not match {channels} per-channel weight scales");
        var values = new float[Shape.Size(shape)];
        for (int i = 0; i < values.Length; i++)
        {
            float q = bias.Data[bias.Size == 1 ? 0 : i];
            if (q != MathF.Round(q)) throw Error(n, $"its bias '{name}' holds {q}, not an integer");
            values[i] = (float)(q * (double)inputScale * weightScale.Data[channels == 1 ? 0 : i % channels]);
        }
        string added = AddInitializer(name + ".dequantized", new Tensor(values, shape), ElementType.Float32);
        Graph.Trainable.Add(added);
        return added;
    }

    /// <summary>
    /// Adds the float layer <paramref name="op"/>(inputs) replacing <paramref name="n"/>: it writes n's output, or, with an
    /// output scale, its float result goes through QuantizeLinear(y_scale, y_zero_point) into n's output.
    /// </summary>
    public void Layer(List<Node> nodes, Node n, string op, List<string> inputs, Dictionary<string, AttributeValue> attributes,
        string? outputScale, string? outputZeroPoint)
    {
        string name = LayerName(n, op), y = n.Outputs[0];
        if (outputScale is null)
        {
            nodes.Add(new Node(name, op, inputs, [y], attributes));
            return;
        }
        string result = Fresh(name + "_output_0");
        nodes.Add(new Node(name, op, inputs, [result], attributes));
        var q = outputZeroPoint is null ? new List<string> { result, outputScale } : [result, outputScale, outputZeroPoint];
        nodes.Add(new Node(name + "/output/QuantizeLinear", OpTypes.QuantizeLinear, q, [y]));
    }
}
