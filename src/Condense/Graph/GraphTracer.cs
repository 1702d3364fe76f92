// Turns a module into its graph view by letting each module emit its ops (ModuleTracers), then names
// the graph input "input" and output "logits", as the project's PyTorch exports do.
using Condense.Autograd;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>Builds the <see cref="ModelGraph"/> of a module.</summary>
public static class GraphTracer
{
    /// <summary>The graph of <paramref name="module"/> for inputs of shape (batch, …sampleShape).</summary>
    /// <remarks>The graph shares its initializer tensors with the module (no copy).</remarks>
    public static ModelGraph Trace(Module module, int[] sampleShape, string inputName = "input", string outputName = "logits")
    {
        if (module is GraphModule gm) return gm.Graph;
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo(inputName, [-1, .. sampleShape]));
        var context = new TraceContext(graph, "", []);
        string result = ModuleTracers.Trace(module, context, inputName);
        if (result == inputName) result = context.Node(OpTypes.Identity, [inputName]);
        foreach (var node in graph.Nodes)
            for (int i = 0; i < node.Outputs.Count; i++)
                if (node.Outputs[i] == result) node.Outputs[i] = outputName;
        foreach (var node in graph.Nodes)
            for (int i = 0; i < node.Inputs.Count; i++)
                if (node.Inputs[i] == result) node.Inputs[i] = outputName;
        // Buffers (masks, running statistics) and parameters that no op reads still belong to the model:
        // keep them as initializers so they are saved and loaded with the weights.
        foreach (var (name, parameter) in module.NamedParameters())
            if (graph.Initializers.TryAdd(name, parameter)) graph.Trainable.Add(name);
        foreach (var (name, buffer) in module.NamedBuffers()) graph.Initializers.TryAdd(name, buffer);
        graph.Outputs.Add(new ValueInfo(outputName, OutputShape(module, sampleShape)));
        graph.Validate();
        return graph;
    }

    // Runs one zero sample through the module to learn the output's per-sample shape.
    private static int[] OutputShape(Module module, int[] sampleShape)
    {
        bool training = module.Training;
        module.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            var y = module.Forward(Tensor.Zeros([1, .. sampleShape]));
            return [-1, .. y.Shape[1..]];
        }
        finally { module.Train(training); }
    }
}
