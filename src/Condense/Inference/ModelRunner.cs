// Runs any model on given inputs, outside the labelled-data flow: inputs by name (or one unnamed input for a
// single-input model), in their own element types; outputs in the graph's order and their own types, timed.
// `condense run` is this plus .npy files; tests and benchmarks use it to run a model the way a user does.
using System.Diagnostics;
using System.Text;
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>The outputs of one run, in the graph's output order, and the time the run took.</summary>
public sealed record ModelRun(IReadOnlyList<KeyValuePair<string, Tensor>> Outputs, TimeSpan Elapsed);

/// <summary>Runs a model once on named inputs.</summary>
public static class ModelRunner
{
    /// <summary>
    /// Binds the given inputs to the model's: each by its name, or one unnamed input (null name) to a single-input model.
    /// Unknown, repeated and missing inputs are one-line errors.
    /// </summary>
    public static Dictionary<string, Tensor> Bind(GraphModule model, IReadOnlyList<(string? Name, Tensor Value)> given)
    {
        var declared = model.Graph.Inputs.Select(i => i.Name).ToList();
        var bound = new Dictionary<string, Tensor>();
        foreach (var (name, value) in given)
        {
            string key = name ?? (declared.Count == 1 ? declared[0]
                : throw new CondenseException($"the model has {declared.Count} inputs ({string.Join(", ", declared)}): name each as NAME=FILE"));
            if (!declared.Contains(key))
                throw new CondenseException($"'{key}' is not an input of the model; its inputs are {string.Join(", ", declared)}");
            if (!bound.TryAdd(key, value)) throw new CondenseException($"the input '{key}' is given twice");
        }
        var missing = declared.Where(d => !bound.ContainsKey(d)).ToList();
        if (missing.Count > 0) throw new CondenseException($"no value given for the input(s) {string.Join(", ", missing)}");
        return bound;
    }

    /// <summary>Runs the model in evaluation mode without gradients and returns its outputs.</summary>
    public static ModelRun Run(GraphModule model, IReadOnlyDictionary<string, Tensor> inputs)
    {
        model.Eval();
        var clock = Stopwatch.StartNew();
        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = model.RunOutputs(inputs);
        clock.Stop();
        var outputs = model.Graph.Outputs.Select(o => new KeyValuePair<string, Tensor>(o.Name, values[o.Name])).ToList();
        return new ModelRun(outputs, clock.Elapsed);
    }

    /// <summary>
    /// A file name for an output: letters, digits, '-', '_' and '.' kept, anything else '_' (so "logits:0" and
    /// "/encoder/out" stay in the output folder); a name of only dots or nothing becomes "output".
    /// </summary>
    public static string FileName(string outputName)
    {
        var safe = new StringBuilder(outputName.Length);
        foreach (char c in outputName) safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        string name = safe.ToString();
        return name.Trim('.').Length == 0 ? "output" : name;
    }
}
