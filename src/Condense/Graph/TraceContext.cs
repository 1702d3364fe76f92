// Tracing a module into a graph: each module emits its nodes through a TraceContext that knows the
// module's dotted path, so parameters keep their state-dict names ("1.weight") and nodes get
// PyTorch-exporter-like names ("/1/Gemm").
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>The view of the graph being built that one module sees while tracing.</summary>
public sealed class TraceContext
{
    private readonly ModelGraph _graph;
    private readonly string _prefix;
    private readonly Dictionary<string, int> _counts;

    internal TraceContext(ModelGraph graph, string prefix, Dictionary<string, int> counts)
    {
        _graph = graph; _prefix = prefix; _counts = counts;
    }

    /// <summary>The context of a sub-module named <paramref name="name"/>.</summary>
    public TraceContext Child(string name) => new(_graph, _prefix.Length == 0 ? name : _prefix + "." + name, _counts);

    /// <summary>Adds a trainable initializer named "prefix.localName" and returns its name.</summary>
    public string Parameter(string localName, Tensor value) => Initializer(localName, value, trainable: true);

    /// <summary>Adds a buffer initializer named "prefix.localName" and returns its name.</summary>
    public string Buffer(string localName, Tensor value) => Initializer(localName, value, trainable: false);

    private string Initializer(string localName, Tensor value, bool trainable)
    {
        string name = _prefix.Length == 0 ? localName : _prefix + "." + localName;
        if (_graph.Initializers.TryGetValue(name, out var existing))
        {
            if (!ReferenceEquals(existing, value)) throw new CondenseException($"two different tensors traced as '{name}'");
            return name;
        }
        _graph.Initializers.Add(name, value);
        if (trainable) _graph.Trainable.Add(name);
        return name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, Dictionary<string, AttributeValue>? attributes = null)
    {
        string baseName = "/" + (_prefix.Length == 0 ? "" : _prefix.Replace('.', '/') + "/") + opType;
        int n = _counts.TryGetValue(baseName, out int c) ? c : 0;
        _counts[baseName] = n + 1;
        string name = n == 0 ? baseName : $"{baseName}_{n}";
        string output = name + "_output_0";
        _graph.Nodes.Add(new Node(name, opType, inputs, [output], attributes));
        return output;
    }
}
