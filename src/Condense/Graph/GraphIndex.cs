// Who writes and who reads each value of a graph, and what depends on what, indexed once: the structural queries of
// passes that rewrite transformer graphs (ModelGraph.Producer and Consumers scan every node, which is quadratic over
// a graph of a thousand nodes).
namespace Condense.Graph;

/// <summary>Producer, consumer and dependency queries over one graph, by node index (the graph's topological order).</summary>
public sealed class GraphIndex
{
    private readonly Dictionary<string, int> _producer = [];
    private readonly Dictionary<string, List<int>> _consumers = [];
    private readonly HashSet<string> _constant;

    /// <summary>Indexes <paramref name="graph"/> as it is now (rebuild it after changing the graph).</summary>
    public GraphIndex(ModelGraph graph)
    {
        Graph = graph;
        _constant = [.. graph.Initializers.Keys];
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            foreach (var output in node.Outputs) _producer[output] = i;
            foreach (var input in node.Inputs.Where(v => v.Length > 0))
            {
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                if (list.Count == 0 || list[^1] != i) list.Add(i);
            }
            // Values computed from constants alone are constants too (folded Constant chains).
            if (node.Inputs.Count > 0 && node.Inputs.All(v => v.Length == 0 || _constant.Contains(v)))
                foreach (var output in node.Outputs) _constant.Add(output);
        }
    }

    /// <summary>The indexed graph.</summary>
    public ModelGraph Graph { get; }

    /// <summary>The index of the node that writes <paramref name="value"/>; null for inputs and initializers.</summary>
    public int? ProducerIndex(string value) => _producer.TryGetValue(value, out int i) ? i : null;

    /// <summary>The nodes that read <paramref name="value"/>, in graph order.</summary>
    public IEnumerable<Node> ConsumersOf(string value) =>
        _consumers.TryGetValue(value, out var list) ? list.Select(i => Graph.Nodes[i]) : [];

    /// <summary>Whether <paramref name="value"/> is an initializer or computed from initializers alone.</summary>
    public bool IsConstant(string value) => _constant.Contains(value);

    /// <summary>The nodes that depend on <paramref name="value"/>, directly or not.</summary>
    public HashSet<int> Descendants(string value)
    {
        var found = new HashSet<int>();
        var pending = new Stack<string>([value]);
        while (pending.TryPop(out var v))
            if (_consumers.TryGetValue(v, out var list))
                foreach (int i in list)
                    if (found.Add(i))
                        foreach (var output in Graph.Nodes[i].Outputs) pending.Push(output);
        return found;
    }

    /// <summary>The nodes <paramref name="value"/> depends on, its producer included.</summary>
    public HashSet<int> Ancestors(string value)
    {
        var found = new HashSet<int>();
        var pending = new Stack<string>([value]);
        while (pending.TryPop(out var v))
            if (_producer.TryGetValue(v, out int i) && found.Add(i))
                foreach (var input in Graph.Nodes[i].Inputs.Where(x => x.Length > 0)) pending.Push(input);
        return found;
    }
}
