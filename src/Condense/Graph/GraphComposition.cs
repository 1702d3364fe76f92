// Two graphs as one: the first's outputs feed the second's inputs, e.g. a preprocessing graph (pixels → normalised
// tensor) before the model that reads it, so the pair is one file to compress, run and ship. The second graph keeps
// every name (its weight names are what reports and exclusion patterns match); a name of the first that the second also
// uses takes the prefix "pre/". The nodes of both are written at the higher of the two opsets (Ops/OpsetForms).
using Condense.Graph.Ops;

namespace Condense.Graph;

/// <summary>One value passed from the first graph to the second: an output of the first read as an input of the second.</summary>
/// <param name="Output">The first graph's output.</param>
/// <param name="Input">The second graph's input it feeds.</param>
public sealed record GraphConnection(ValueInfo Output, ValueInfo Input);

/// <summary>Joins two graphs, the first feeding the second.</summary>
public static class GraphComposition
{
    /// <summary>What a name of the first graph gets in front when the second graph uses it too.</summary>
    public const string Prefix = "pre/";

    // Graphs Condense builds have no opset (ModelGraph.Opset): they follow opset 13.
    private const int BuiltOpset = 13;

    /// <summary>
    /// Which output of <paramref name="first"/> feeds which input of <paramref name="second"/>: the only output to the only
    /// input whatever their names, otherwise each input of the second that an output of the first names (the other inputs
    /// stay inputs of the composed graph). No match at all is a one-line error listing both sides.
    /// </summary>
    public static IReadOnlyList<GraphConnection> Connections(ModelGraph first, ModelGraph second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.Outputs.Count == 1 && second.Inputs.Count == 1) return [new GraphConnection(first.Outputs[0], second.Inputs[0])];
        var connections = second.Inputs.Select(i => first.Outputs.Find(o => o.Name == i.Name) is { } o ? new GraphConnection(o, i) : null)
            .OfType<GraphConnection>().ToList();
        if (connections.Count == 0)
            throw new CondenseException(
                $"no output of the first graph ({Names(first.Outputs)}) has the name of an input of the second ({Names(second.Inputs)})");
        return connections;
    }

    /// <summary>
    /// The graph that runs <paramref name="first"/> and feeds its outputs to <paramref name="second"/> (see
    /// <see cref="Connections"/>; each connection's element type and shape are checked, −1 matching any size). Its inputs
    /// are the first's (renamed only if the second uses the name) and the second's unconnected ones; its outputs the second's.
    /// Nodes and initializers of the first that feed none of the connections are left out. The opset is the higher of the
    /// two, the lower graph's nodes rewritten into its forms; trainable initializers are those of both; metadata is the
    /// first's overwritten by the second's. Both graphs are left as they were: the result holds copies.
    /// </summary>
    public static ModelGraph Compose(ModelGraph first, ModelGraph second)
    {
        var connections = Connections(first, second);
        foreach (var c in connections) CheckConnection(c);
        int? opset = first.Opset is null && second.Opset is null ? null : Math.Max(first.Opset ?? BuiltOpset, second.Opset ?? BuiltOpset);
        var pre = Raised(first.Clone(), opset);
        var main = Raised(second.Clone(), opset);
        pre.Outputs.Clear();
        pre.Outputs.AddRange(connections.Select(c => c.Output));
        pre.RemoveUnused();

        var rename = PreNames(pre, main, connections, out var bridges);
        string Value(string name) => name.Length == 0 ? name : rename.GetValueOrDefault(name, name);
        var composed = new ModelGraph { Opset = opset };
        composed.Inputs.AddRange(pre.Inputs.Select(i => i with { Name = Value(i.Name) }));
        composed.Inputs.AddRange(main.Inputs.Where(i => !connections.Any(c => c.Input.Name == i.Name)));
        composed.Outputs.AddRange(main.Outputs);
        foreach (var n in pre.Nodes)
            composed.Nodes.Add(new Node(rename[NodeKey(n.Name)], n.OpType,
                n.Inputs.Select(Value), n.Outputs.Select(Value), n.Attributes));
        composed.Nodes.AddRange(bridges);
        composed.Nodes.AddRange(main.Nodes);
        foreach (var (name, tensor) in pre.Initializers) composed.Initializers.Add(Value(name), tensor);
        foreach (var (name, tensor) in main.Initializers) composed.Initializers.Add(name, tensor);
        composed.Trainable.UnionWith(pre.Trainable.Select(Value).Concat(main.Trainable));
        foreach (var (name, type) in pre.ElementTypes) composed.ElementTypes[Value(name)] = type;
        foreach (var (name, type) in main.ElementTypes) composed.ElementTypes[name] = type;
        foreach (var (key, value) in pre.Metadata.Concat(main.Metadata)) composed.Metadata[key] = value;
        composed.Validate();
        return composed;
    }

    /// <summary>Throws a one-line error when the connection's element types differ or its known sizes disagree.</summary>
    public static void CheckConnection(GraphConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var (o, i) = (connection.Output, connection.Input);
        if (Disagreement(o, i) is { } why)
            throw new CondenseException($"the first graph's output '{o.Name}' {o.FormatShape()} ({o.DataType}) cannot feed the second's input "
                + $"'{i.Name}' {i.FormatShape()} ({i.DataType}): {why}");
    }

    // "?" is an element type the file did not declare; −1 a size known only at run time.
    private static string? Disagreement(ValueInfo output, ValueInfo input)
    {
        if (output.DataType != input.DataType && output.DataType != "?" && input.DataType != "?") return "the element types differ";
        if (output.Shape.Length != input.Shape.Length) return $"rank {output.Shape.Length} is not rank {input.Shape.Length}";
        for (int k = 0; k < output.Shape.Length; k++)
            if (output.Shape[k] >= 0 && input.Shape[k] >= 0 && output.Shape[k] != input.Shape[k])
                return $"dimension {k} is {output.Shape[k]}, not {input.Shape[k]}";
        return null;
    }

    private static ModelGraph Raised(ModelGraph graph, int? opset)
    {
        if (opset is not { } target) return graph;
        int own = graph.Opset ?? BuiltOpset;
        var raised = own < target ? OpsetForms.Raise(graph, own, target) : graph;
        raised.Opset = target;
        return raised;
    }

    // Node names share the renaming map with value names under a key no value name can have.
    private static string NodeKey(string nodeName) => "\0" + nodeName;

    // The names the first graph's values and nodes take: a connected output becomes the input of the second it feeds;
    // any other name the second uses takes the prefix (repeated until free). An output that is not computed by a node
    // (an input or initializer passed through) reaches the second's input by an Identity bridge.
    private static Dictionary<string, string> PreNames(ModelGraph pre, ModelGraph main, IReadOnlyList<GraphConnection> connections,
        out List<Node> bridges)
    {
        var mainValues = main.Inputs.Select(i => i.Name).Concat(main.Outputs.Select(o => o.Name)).Concat(main.Initializers.Keys)
            .Concat(main.Nodes.SelectMany(n => n.Inputs.Concat(n.Outputs))).ToHashSet();
        var mainNodes = main.Nodes.Select(n => n.Name).ToHashSet();
        var preValues = pre.Inputs.Select(i => i.Name).Concat(pre.Initializers.Keys).Concat(pre.Nodes.SelectMany(n => n.Inputs.Concat(n.Outputs)))
            .Where(v => v.Length > 0).ToHashSet();
        var produced = pre.Nodes.SelectMany(n => n.Outputs).ToHashSet();
        var rename = new Dictionary<string, string>();
        bridges = [];
        foreach (var c in connections.Where(c => produced.Contains(c.Output.Name))) rename[c.Output.Name] = c.Input.Name;
        var assigned = new HashSet<string>();
        string Free(string name, HashSet<string> taken, HashSet<string> own)
        {
            if (!taken.Contains(name)) return name;
            string candidate = Prefix + name;
            while (taken.Contains(candidate) || own.Contains(candidate) || !assigned.Add(candidate)) candidate = Prefix + candidate;
            return candidate;
        }
        foreach (var value in preValues.Where(v => !rename.ContainsKey(v))) rename[value] = Free(value, mainValues, preValues);
        var preNodes = pre.Nodes.Select(n => n.Name).ToHashSet();
        foreach (var node in pre.Nodes) rename[NodeKey(node.Name)] = Free(node.Name, mainNodes, preNodes);
        var nodeNames = mainNodes.Concat(pre.Nodes.Select(n => rename[NodeKey(n.Name)])).ToHashSet();
        foreach (var c in connections.Where(c => !produced.Contains(c.Output.Name)))
        {
            string name = Free($"{Prefix}{c.Input.Name}/Identity", nodeNames, nodeNames);
            nodeNames.Add(name);
            bridges.Add(new Node(name, OpTypes.Identity, [rename[c.Output.Name]], [c.Input.Name]));
        }
        return rename;
    }

    private static string Names(IEnumerable<ValueInfo> values) => string.Join(", ", values.Select(v => $"'{v.Name}'"));
}
