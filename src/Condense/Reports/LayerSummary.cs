// The layer table of a graph, as `condense info` prints it (in the manner of Keras' model.summary()):
// each node with its activation inputs, its attributes (kernel, strides, pads, …), the shape of its
// output for one sample and the parameters it owns. Output shapes come from running the graph once on
// a zero sample, so they are what the engine computes, for every op the engine runs.
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Reports;

/// <summary>One node of the layer table.</summary>
/// <param name="Name">The node's name.</param>
/// <param name="OpType">The ONNX op type.</param>
/// <param name="Inputs">Inputs that are activations (initializers are counted in <paramref name="Parameters"/> instead).</param>
/// <param name="Outputs">The node's outputs.</param>
/// <param name="Attributes">The attributes as "name=value" text, e.g. "kernel_shape=[5,5] pads=[2,2,2,2]".</param>
/// <param name="OutputShape">The first output's shape for a batch of one, or null when the input shape is not fully known.</param>
/// <param name="Parameters">Elements of the parameters the node reads (weights and biases, as <see cref="ModelSummary"/> counts them).</param>
public sealed record LayerSummary(string Name, string OpType, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    string Attributes, int[]? OutputShape, long Parameters)
{
    /// <summary>The layer table of <paramref name="model"/>'s graph, one row per node in graph order.</summary>
    public static IReadOnlyList<LayerSummary> Of(GraphModule model)
    {
        var graph = model.Graph;
        var shapes = OutputShapes(model);
        var counted = new HashSet<string>();
        var rows = new List<LayerSummary>();
        foreach (var node in graph.Nodes)
        {
            // Counted as ModelSummary counts: trainable tensors and integer weights, not buffers such as a
            // Reshape's shape or batch-norm running statistics; a shared tensor at its first reader only.
            long parameters = node.Inputs.Where(i => IsParameter(graph, i) && counted.Add(i)).Sum(i => (long)graph.Initializers[i].Size);
            var activations = node.Inputs.Where(i => i.Length > 0 && !graph.Initializers.ContainsKey(i)).ToList();
            int[]? shape = shapes is not null && node.Outputs.Count > 0 && shapes.TryGetValue(node.Outputs[0], out var s) ? s : null;
            rows.Add(new LayerSummary(node.Name, node.OpType, activations, node.Outputs.ToList(), FormatAttributes(node), shape, parameters));
        }
        return rows;
    }

    private static Dictionary<string, int[]>? OutputShapes(GraphModule model)
    {
        if (model.ZeroSample() is not { } sample) return null;
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            var values = model.Run(sample);
            return values.ToDictionary(kv => kv.Key, kv => kv.Value.Shape);
        }
        finally { model.Train(training); }
    }

    private static bool IsParameter(ModelGraph graph, string name) =>
        graph.Initializers.TryGetValue(name, out var t) && (graph.Trainable.Contains(name) || (graph.TypeOf(name) != ElementType.Float32 && t.Rank >= 2));

    // Compact for a table column: "kernel_shape=[5,5] pads=[2,2,2,2]".
    private static string FormatAttributes(Node node) =>
        string.Join(" ", node.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal)
            .Select(a => $"{a.Key}={a.Value.ToString().Replace(", ", ",", StringComparison.Ordinal)}"));
}
