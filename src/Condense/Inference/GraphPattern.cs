// What the inference fusions (FloatGraphFusion, AttentionFusion, DynamicMatMulFusion) share: the structural questions
// a pattern asks of a graph — who writes a value, whether one node alone reads it, which operand of a binary node is a
// constant and what scalar it holds — and the rewrite they all end with: a copy of the graph, sharing its initializer
// tensors, with some nodes replaced by others in their place (the graph stays in topological order as long as each
// replacement goes where the last node it stands for was) and the nodes nothing reads any more removed.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Structural queries over one graph for the inference fusions' matchers.</summary>
internal class GraphPattern(ModelGraph graph)
{
    private readonly GraphIndex _index = new(graph);
    private readonly HashSet<string> _outputs = [.. graph.Outputs.Select(o => o.Name)];

    /// <summary>The graph matched.</summary>
    protected ModelGraph Graph { get; } = graph;

    /// <summary>
    /// The producer of <paramref name="value"/> when it is an <paramref name="opType"/> node, one node alone reads the value, and
    /// it is no graph output.
    /// </summary>
    public Node? OnlyFeeds(string value, string opType) => Readers(value) == 1 && !IsGraphOutput(value) ? Producer(value, opType) : null;

    /// <summary>The single-output node that writes <paramref name="value"/>, when it is of <paramref name="opType"/> (any when null).</summary>
    public Node? Producer(string value, string? opType) =>
        _index.ProducerIndex(value) is int i && (opType is null || Graph.Nodes[i].OpType == opType) && Graph.Nodes[i].Outputs.Count == 1
            ? Graph.Nodes[i] : null;

    /// <summary>The one node that reads <paramref name="value"/>, when no other does and it is no graph output.</summary>
    public Node? OnlyReader(string value) => !IsGraphOutput(value) && _index.ConsumersOf(value).ToList() is [var reader] ? reader : null;

    /// <summary>The nodes that read <paramref name="value"/>.</summary>
    public IEnumerable<Node> ReadersOf(string value) => _index.ConsumersOf(value);

    /// <summary>How many nodes read <paramref name="value"/>.</summary>
    public int Readers(string value) => _index.ConsumersOf(value).Count();

    /// <summary>Whether <paramref name="value"/> is one of the graph's outputs.</summary>
    public bool IsGraphOutput(string value) => _outputs.Contains(value);

    /// <summary>A binary node's computed operand and its initializer operand, in either order.</summary>
    public bool Split(Node node, out string computed, out string constant)
    {
        (computed, constant) = ("", "");
        if (node.Inputs.Count != 2) return false;
        bool first = Graph.Initializers.ContainsKey(node.Inputs[0]), second = Graph.Initializers.ContainsKey(node.Inputs[1]);
        if (first == second) return false;
        (computed, constant) = first ? (node.Inputs[1], node.Inputs[0]) : (node.Inputs[0], node.Inputs[1]);
        return true;
    }

    /// <summary>The value of a float32 initializer of one element; null for anything else.</summary>
    public float? Scalar(string name) =>
        Graph.Initializers.TryGetValue(name, out var t) && t.Size == 1 && Graph.TypeOf(name) == ElementType.Float32
        && t.DataType == DataType.Float32 ? t.Data[0] : null;

    /// <summary>Whether <paramref name="name"/> is a float32 initializer of rank 1.</summary>
    public bool IsVector(string name) =>
        Graph.Initializers.TryGetValue(name, out var t) && t.Rank == 1 && Graph.TypeOf(name) == ElementType.Float32 && t.DataType == DataType.Float32;

    /// <summary>
    /// A copy of <paramref name="graph"/> sharing its initializer tensors, each node of <paramref name="replacements"/> replaced by
    /// its nodes, <paramref name="added"/> initializers added, and the nodes and initializers nothing reads any more removed.
    /// </summary>
    public static ModelGraph Rewrite(ModelGraph graph, IReadOnlyDictionary<Node, IReadOnlyList<Node>> replacements,
        IReadOnlyDictionary<string, Tensor>? added = null)
    {
        var result = new ModelGraph { Opset = graph.Opset };
        result.Inputs.AddRange(graph.Inputs);
        result.Outputs.AddRange(graph.Outputs);
        foreach (var n in graph.Nodes)
            if (replacements.TryGetValue(n, out var r)) result.Nodes.AddRange(r);
            else result.Nodes.Add(new Node(n.Name, n.OpType, n.Inputs, n.Outputs, n.Attributes));
        foreach (var (name, t) in graph.Initializers) result.Initializers.Add(name, t);
        foreach (var (name, t) in added ?? new Dictionary<string, Tensor>()) result.Initializers.Add(name, t);
        foreach (var name in graph.Trainable) result.Trainable.Add(name);
        foreach (var (name, type) in graph.ElementTypes) result.ElementTypes[name] = type;
        foreach (var (key, value) in graph.Metadata) result.Metadata[key] = value;
        result.RemoveUnused();
        return result;
    }
}
