// The model as a graph, shaped like ONNX: named inputs and outputs, nodes (op type, input and output
// value names, attributes) in topological order, and named initializers (parameters and buffers).
// ONNX import/export, pruning and quantization all read and rewrite this one structure.
using System.Globalization;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>A graph input or output: a name and a shape, −1 marking a dynamic dimension (the batch).</summary>
public sealed record ValueInfo(string Name, int[] Shape)
{
    /// <summary>The element type as ONNX names it ("float", "int64", …): float unless an imported file declares another.</summary>
    public string DataType { get; init; } = "float";

    /// <summary>Names of dynamic dimensions by position (ONNX dim_param, e.g. "batch"); null or missing where none was given.</summary>
    public IReadOnlyList<string?> DimensionNames { get; init; } = [];

    /// <summary>The shape for people: "[batch, 1, 28, 28]", each dynamic dimension by its name, or '?'.</summary>
    public string FormatShape() =>
        "[" + string.Join(", ", Shape.Select((d, k) => d >= 0 ? d.ToString(CultureInfo.InvariantCulture) : DimensionNames.ElementAtOrDefault(k) ?? "?")) + "]";
}

/// <summary>One operation: reads named values, writes named values.</summary>
public sealed class Node
{
    /// <summary>Creates a node.</summary>
    public Node(string name, string opType, IEnumerable<string> inputs, IEnumerable<string> outputs,
        IReadOnlyDictionary<string, AttributeValue>? attributes = null)
    {
        Name = name;
        OpType = opType;
        Inputs = inputs.ToList();
        Outputs = outputs.ToList();
        Attributes = attributes is null ? [] : new Dictionary<string, AttributeValue>(attributes);
    }

    /// <summary>The node's unique name, e.g. "/1/Gemm".</summary>
    public string Name { get; set; }
    /// <summary>The ONNX operator type, e.g. "Gemm".</summary>
    public string OpType { get; set; }
    /// <summary>Names of the values read; "" marks an omitted optional input.</summary>
    public List<string> Inputs { get; }
    /// <summary>Names of the values written.</summary>
    public List<string> Outputs { get; }
    /// <summary>Attributes by name.</summary>
    public Dictionary<string, AttributeValue> Attributes { get; }

    /// <summary>An integer attribute, or <paramref name="fallback"/> when absent.</summary>
    public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) ? a.IntValue : fallback;
    /// <summary>A float attribute, or <paramref name="fallback"/> when absent.</summary>
    public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) ? a.FloatValue : fallback;

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({OpType})";
}

/// <summary>A model as a graph of named ops over named tensors.</summary>
public sealed class ModelGraph
{
    /// <summary>Inputs fed by the caller.</summary>
    public List<ValueInfo> Inputs { get; } = [];
    /// <summary>Outputs returned to the caller.</summary>
    public List<ValueInfo> Outputs { get; } = [];
    /// <summary>Nodes in topological order.</summary>
    public List<Node> Nodes { get; } = [];
    /// <summary>Constant tensors by name, in insertion order: weights, biases, masks.</summary>
    public OrderedDictionary<string, Tensor> Initializers { get; } = [];
    /// <summary>Names of the initializers that training updates (the rest are buffers).</summary>
    public HashSet<string> Trainable { get; } = [];
    /// <summary>
    /// The default-domain ONNX opset the nodes are written for, when the graph was imported (opsets before 7 count as 7:
    /// the importer rewrites their nodes); null for graphs Condense builds, which follow opset 13. The exporter writes
    /// at least this opset, so nodes keep the attribute/input forms of the file they came from.
    /// </summary>
    public int? Opset { get; set; }

    /// <summary>
    /// Text that travels with the model (ONNX metadata_props, a checkpoint's graph JSON): a text encoder's WordPiece
    /// vocabulary under <c>condense.vocabulary</c>, so the tokenizer goes wherever the model goes.
    /// </summary>
    public Dictionary<string, string> Metadata { get; } = [];

    /// <summary>Initializers holding integers (quantized weights, zero points); absent means float32.</summary>
    public Dictionary<string, ElementType> ElementTypes { get; } = [];

    /// <summary>The stored element type of initializer <paramref name="name"/>.</summary>
    public ElementType TypeOf(string name) => ElementTypes.TryGetValue(name, out var t) ? t : ElementType.Float32;

    /// <summary>The node that writes <paramref name="value"/>, or null for inputs and initializers.</summary>
    public Node? Producer(string value) => Nodes.FirstOrDefault(n => n.Outputs.Contains(value));

    /// <summary>The nodes that read <paramref name="value"/>.</summary>
    public IEnumerable<Node> Consumers(string value) => Nodes.Where(n => n.Inputs.Contains(value));

    /// <summary>A deep copy: new nodes and new tensors, so changing the copy leaves this graph as it was.</summary>
    public ModelGraph Clone()
    {
        var graph = new ModelGraph();
        graph.Inputs.AddRange(Inputs);
        graph.Outputs.AddRange(Outputs);
        foreach (var n in Nodes) graph.Nodes.Add(new Node(n.Name, n.OpType, n.Inputs, n.Outputs, n.Attributes));
        foreach (var (name, t) in Initializers) graph.Initializers.Add(name, t.Clone());
        foreach (var name in Trainable) graph.Trainable.Add(name);
        foreach (var (name, type) in ElementTypes) graph.ElementTypes[name] = type;
        graph.Opset = Opset;
        foreach (var (key, value) in Metadata) graph.Metadata[key] = value;
        return graph;
    }

    /// <summary>Removes nodes none of whose outputs is read or a graph output (repeatedly), then initializers no node reads.</summary>
    public void RemoveUnused()
    {
        var outputs = Outputs.Select(o => o.Name).ToHashSet();
        bool removed;
        do
        {
            var read = Nodes.SelectMany(n => n.Inputs).Where(i => i.Length > 0).ToHashSet();
            removed = Nodes.RemoveAll(n => !n.Outputs.Any(o => o.Length > 0 && (read.Contains(o) || outputs.Contains(o)))) > 0;
        } while (removed);
        var used = Nodes.SelectMany(n => n.Inputs).ToHashSet();
        foreach (var name in Initializers.Keys.Where(k => !used.Contains(k)).ToList())
        {
            Initializers.Remove(name);
            Trainable.Remove(name);
            ElementTypes.Remove(name);
        }
    }

    /// <summary>Checks names: every node input is defined earlier (input, initializer or node output), outputs are unique.</summary>
    public void Validate()
    {
        var defined = new HashSet<string>(Inputs.Select(i => i.Name));
        foreach (var name in Initializers.Keys) defined.Add(name);
        foreach (var node in Nodes)
        {
            foreach (var input in node.Inputs)
                if (input.Length > 0 && !defined.Contains(input))
                    throw new CondenseException($"node {node.Name} ({node.OpType}) reads '{input}', which no earlier node, input or initializer defines");
            foreach (var output in node.Outputs)
                if (!defined.Add(output))
                    throw new CondenseException($"value '{output}' is defined twice (node {node.Name})");
        }
        foreach (var output in Outputs)
            if (!defined.Contains(output.Name)) throw new CondenseException($"graph output '{output.Name}' is never computed");
    }
}
