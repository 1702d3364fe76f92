// Batches through a model exported for one sample. Many ONNX files declare their input as [1, 3, 224, 224] although
// nothing in the graph depends on that 1; others bake it in (a Reshape to [1, -1], a class token expanded to [1, 1, D]
// and concatenated). Check tells the two apart, first by reading the graph (BatchDimension.Rules.cs names the node that
// fixes the batch), then by running two random samples as one batch of 2 and each alone: the batch must give both
// results. MakeDynamic then declares the batch dimension as −1, named "batch" (dim_param in the ONNX file).
using Condense.Autograd;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>Whether a model runs batches along dimension 0, and if not, why.</summary>
/// <param name="CanBatch">True when the graph does not fix the batch and a batch of 2 gives each sample's own result.</param>
/// <param name="Reason">Why the model cannot run batches (naming the input, node or output); null when it can.</param>
public sealed record BatchSupport(bool CanBatch, string? Reason)
{
    /// <summary>A model that runs batches.</summary>
    public static BatchSupport Yes { get; } = new(true, null);

    /// <summary>A model that does not, for <paramref name="reason"/>.</summary>
    public static BatchSupport No(string reason) => new(false, reason);
}

/// <summary>Checks whether a model declared for batch 1 runs batches, and declares its batch dimension dynamic.</summary>
public static partial class BatchDimension
{
    /// <summary>The name a dynamic batch dimension gets (ONNX dim_param).</summary>
    public const string Name = "batch";

    /// <summary>How far a sample's result in a batch may differ from its result alone, relative to the output's largest magnitude.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>
    /// Whether <paramref name="model"/> runs batches along dimension 0. Every input must be floating-point, with dimension 0
    /// of 1 (or already −1) and its other dimensions known. The graph must not fix the batch (a Reshape to a constant shape
    /// starting with 1, a Flatten at axis 0, a Gather, Slice, Split, Squeeze, Concat or reduction over axis 0, a constant of
    /// first dimension 1 concatenated with batch values — see the reason for the node), and two random samples (seeded by
    /// <paramref name="seed"/>) run as one batch must give their results alone within <see cref="Tolerance"/>. Runs the model
    /// three times in evaluation mode; its training mode is restored afterwards.
    /// </summary>
    public static BatchSupport Check(GraphModule model, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (InputReason(model.Graph) is { } inputReason) return BatchSupport.No(inputReason);
        var rng = new Rng(seed);
        var first = Sample(model.Graph, rng);
        var second = Sample(model.Graph, rng);
        bool training = model.Training;
        model.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            var alone = model.Run(first);
            if (GraphReason(model.Graph, alone) is { } graphReason) return BatchSupport.No(graphReason);
            var batch = first.ToDictionary(p => p.Key, p => Tensor.Concat([p.Value, second[p.Key]], 0));
            Dictionary<string, Tensor> together;
            try { together = model.Run(batch); }
            catch (Exception e) when (e is CondenseException or ArgumentException or IndexOutOfRangeException)
            {
                return BatchSupport.No($"a batch of 2 does not run: {e.Message}");
            }
            var secondAlone = model.Run(second);
            foreach (var output in model.Graph.Outputs)
                if (OutputReason(output.Name, alone[output.Name], secondAlone[output.Name], together[output.Name]) is { } reason)
                    return BatchSupport.No(reason);
            return BatchSupport.Yes;
        }
        finally { model.Train(training); }
    }

    /// <summary>
    /// <paramref name="model"/> with dimension 0 of every input and output declared −1 and named <see cref="Name"/>, after
    /// <see cref="Check"/> passed (else a one-line error with its reason); nothing else changes. A model whose inputs are
    /// dynamic already and whose outputs do not fix dimension 0 at 1 is returned as it is. The new module runs a copy of the graph.
    /// </summary>
    public static GraphModule MakeDynamic(GraphModule model, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph;
        if (graph.Inputs.All(i => i.Shape is [< 0, ..]) && graph.Outputs.All(o => o.Shape is not [1, ..])) return model;
        if (Check(model, seed) is { CanBatch: false, Reason: var reason }) throw new CondenseException($"the model cannot run batches: {reason}");
        var dynamic = graph.Clone();
        for (int i = 0; i < dynamic.Inputs.Count; i++) dynamic.Inputs[i] = Dynamic(dynamic.Inputs[i]);
        for (int i = 0; i < dynamic.Outputs.Count; i++) dynamic.Outputs[i] = Dynamic(dynamic.Outputs[i]);
        var module = new GraphModule(dynamic);
        module.Train(model.Training);
        return module;
    }

    private static ValueInfo Dynamic(ValueInfo value) => value.Shape.Length == 0 ? value : value with
    {
        Shape = [-1, .. value.Shape[1..]],
        DimensionNames = [Name, .. Enumerable.Range(1, value.Shape.Length - 1).Select(k => value.DimensionNames.ElementAtOrDefault(k))],
    };

    // The inputs the check can feed: floating-point, batch dimension 1 or dynamic, the rest of the shape known.
    private static string? InputReason(ModelGraph graph)
    {
        if (graph.Inputs.Count == 0) return "the model has no inputs";
        foreach (var input in graph.Inputs)
        {
            string shape = input.FormatShape();
            if (DataTypes.FromOnnxName(input.DataType) is not { } type || !type.IsFloat())
                return $"input '{input.Name}' is {input.DataType}: the check feeds random floating-point samples only";
            if (input.Shape.Length == 0) return $"input '{input.Name}' is a scalar: it has no batch dimension";
            if (input.Shape[0] > 1) return $"input '{input.Name}' {shape} is declared for a batch of {input.Shape[0]}, not 1";
            if (input.Shape[1..].Any(d => d < 0)) return $"input '{input.Name}' {shape} has sizes known only at run time besides the batch";
        }
        return null;
    }

    // One sample per input, standard normal values.
    private static Dictionary<string, Tensor> Sample(ModelGraph graph, Rng rng) => graph.Inputs.ToDictionary(i => i.Name, i =>
    {
        int[] shape = [1, .. i.Shape[1..]];
        return new Tensor(Enumerable.Range(0, Shape.Size(shape)).Select(_ => rng.NextNormal()).ToArray(), shape);
    });

    // The batch's output must be the two samples' outputs stacked along dimension 0.
    private static string? OutputReason(string name, Tensor first, Tensor second, Tensor together)
    {
        if (first.Shape is not [1, ..]) return $"output '{name}' has shape {Shape.Format(first.Shape)} for one sample: it has no batch dimension of 1";
        int[] expected = [2, .. first.Shape[1..]];
        if (!together.Shape.AsSpan().SequenceEqual(expected))
            return $"output '{name}' has shape {Shape.Format(together.Shape)} for a batch of 2, not {Shape.Format(expected)}";
        foreach (var (alone, offset, sample) in new[] { (first, 0, 1), (second, first.Size, 2) })
        {
            double largest = 0, difference = 0;
            for (int k = 0; k < alone.Size; k++)
            {
                double value = alone.GetDouble(k);
                largest = Math.Max(largest, Math.Abs(value));
                difference = Math.Max(difference, Math.Abs(together.GetDouble(offset + k) - value));
            }
            if (!(difference <= Tolerance * Math.Max(largest, 1e-12)))
                return $"output '{name}' of sample {sample} in a batch of 2 differs from its run alone by {difference:G3} (largest magnitude {largest:G3})";
        }
        return null;
    }
}
