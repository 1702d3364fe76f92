// Initializers read by more than one node. Tensors of equal value end up shared between layers: PyTorch's ONNX exporter
// (1.12+) writes them once (the zero biases of an untrained model, ConvNeXt's layer scales of 1e-6) and reads the copy
// through Identity nodes, which the importer turns back into each layer's own tensor, but ONNX optimizers that remove
// Identity nodes (onnxoptimizer, onnx-simplifier) leave one tensor read by many convs. A pass that rewrites a layer's own
// tensors (cutting filters, folding batch norm, equalizing, correcting biases) first gives each layer its own copy, or it
// would change the other readers too.
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>Finds and separates initializers that several nodes read.</summary>
public static class SharedInitializers
{
    /// <summary>
    /// Gives every node after the first that reads a shared initializer its own copy (named after the original), for the
    /// nodes <paramref name="readers"/> selects (all when null); nodes it does not select keep reading the original.
    /// Trainability and element types follow the copies. Returns the number of copies made.
    /// </summary>
    public static int Separate(ModelGraph graph, Func<Node, bool>? readers = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var taken = new HashSet<string>(graph.Initializers.Keys);
        foreach (var value in graph.Inputs) taken.Add(value.Name);
        foreach (var node in graph.Nodes) taken.UnionWith(node.Outputs);
        int copies = 0;
        foreach (string name in Find(graph))
        {
            var nodes = graph.Nodes.Where(n => n.Inputs.Contains(name)).ToList();
            var selected = nodes.Where(n => readers?.Invoke(n) ?? true).ToList();
            // When every reader is selected the first keeps the original; otherwise the others do.
            foreach (var node in selected.Skip(selected.Count == nodes.Count ? 1 : 0))
            {
                var tensor = graph.Initializers[name];
                string copy = FreshName(taken, name);
                graph.Initializers.Insert(graph.Initializers.IndexOf(name) + 1, copy, tensor.Clone());
                if (graph.Trainable.Contains(name)) graph.Trainable.Add(copy);
                if (graph.ElementTypes.TryGetValue(name, out var type)) graph.ElementTypes[copy] = type;
                for (int j = 0; j < node.Inputs.Count; j++)
                    if (node.Inputs[j] == name) node.Inputs[j] = copy;
                copies++;
            }
        }
        return copies;
    }

    /// <summary>Nodes whose parameter tensors passes rewrite per layer: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization.</summary>
    public static bool IsLayer(Node node) =>
        node.OpType is OpTypes.Conv or OpTypes.ConvTranspose or OpTypes.Gemm or OpTypes.MatMul or OpTypes.BatchNormalization;

    /// <summary>
    /// <paramref name="model"/> itself when no layer (<see cref="IsLayer"/>) shares a parameter tensor with another node,
    /// else a copy in which each such layer reads its own copies (the input is not changed).
    /// </summary>
    public static GraphModule OwnLayerParameters(GraphModule model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (!Find(graph).Any(name => graph.Nodes.Any(n => IsLayer(n) && n.Inputs.Contains(name)))) return model;
        graph = graph.Clone();
        Separate(graph, IsLayer);
        var copy = new GraphModule(graph);
        if (!model.Training) copy.Eval();
        return copy;
    }

    /// <summary>The initializers that more than one node reads.</summary>
    public static IReadOnlyList<string> Find(ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return [.. graph.Nodes.SelectMany(n => n.Inputs.Distinct()).Where(graph.Initializers.ContainsKey)
            .GroupBy(name => name).Where(g => g.Count() > 1).Select(g => g.Key)];
    }

    private static string FreshName(HashSet<string> taken, string name)
    {
        for (int k = 1; ; k++)
        {
            string candidate = $"{name}.{k}";
            if (taken.Add(candidate)) return candidate;
        }
    }
}
