// A narrower transformer student: the residual stream keeps `width` of its D channels, physically. Every tensor the
// channels index loses the others (HiddenStream finds them: embedding tables' columns, layer-norm gamma and beta,
// the input rows of the Linear layers that read the stream, the output columns and biases of those that write it,
// D in Reshape targets), and a trainable Linear width → D at the end of the stream, initialised as the selection
// matrix that puts each kept channel back where it was (bias zero), gives the output the teacher's width under its
// name, so fidelity, embedding and hidden losses compare it with the teacher's as they are.
// The narrow model is not the teacher restricted to some channels: every layer norm now normalises over `width`
// channels, so its means and variances (and everything after the embeddings' sum) change. The embeddings before
// their layer norm are exact; distillation is what recovers the rest.
// Channel scores: Σ γ_c² + β_c² over every layer norm of the stream (every per-channel constant applied to it), the
// expected square of channel c where a normalised stream value is written (x̂ has unit variance). Transformers
// concentrate much of the stream in a few outlier channels that the layer norms' weights mark (Kovaleva et al. 2021,
// "BERT Busters"); all-MiniLM-L6-v2's channels 62, 249 and 223 carry 50, 28 and 15 times the mean channel's energy.
// Those channels are read through small weights, so scoring by weights that read the stream (the L2 norms of a
// channel's word-embedding column and its rows of Q, K, V and feed-forward-in) ranks them among the last and drops
// them: on all-MiniLM-L6-v2, before any distillation, the mean cosine of sentence embeddings (200 corpus passages)
// to the teacher's is 0.605 at width 256 and 0.41 at 192 with layer-norm scores, 0.60 and 0.41 with measured
// activation energy, 0.33 and 0.17 with random channels, and 0.13 and 0.07 with the weight norms. A graph whose
// stream has no per-channel constants falls back to the embedding tables' column energy.
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>A model with a narrower residual stream, and what changed; the input model is left as it was.</summary>
/// <param name="Model">The new model.</param>
/// <param name="Before">The stream's width D before.</param>
/// <param name="Kept">The channels kept, ascending: channel i of the new stream is channel Kept[i] of the old.</param>
/// <param name="ParametersBefore">Trainable parameters of the input model.</param>
/// <param name="ParametersAfter">Trainable parameters of the new model, the added projection included.</param>
public sealed record HiddenWidthResult(GraphModule Model, int Before, IReadOnlyList<int> Kept, long ParametersBefore, long ParametersAfter)
{
    /// <summary>The stream's width now.</summary>
    public int After => Kept.Count;

    /// <summary>One line: the width before → after, and the parameters.</summary>
    public string Summary() => $"hidden width {Before} → {After}; parameters {ParametersBefore:N0} → {ParametersAfter:N0}";
}

/// <summary>Narrows the residual stream of transformer graphs.</summary>
public static class HiddenWidth
{
    /// <summary>
    /// Keeps the <paramref name="width"/> channels of the residual stream with the largest <see cref="ChannelScores"/>
    /// (1 ≤ width &lt; D). <paramref name="layers"/> are <see cref="EncoderLayers.Find"/>'s for this model; the model runs
    /// once on <paramref name="sample"/> (default: 8 tokens of zeros, masks of ones) for shapes.
    /// </summary>
    public static HiddenWidthResult Shrink(GraphModule model, IReadOnlyList<EncoderLayer> layers, int width,
        IReadOnlyDictionary<string, Tensor>? sample = null)
    {
        var graph = model.Graph.Clone();
        var plan = HiddenStream.Plan(graph, layers, Values(model, sample));
        CheckWidth(width, plan.Width);
        var scores = Scores(graph, plan);
        int[] keep = [.. Enumerable.Range(0, plan.Width).OrderByDescending(c => scores[c]).ThenBy(c => c).Take(width).Order()];
        return Apply(model, graph, plan, keep);
    }

    /// <summary>Keeps the channels <paramref name="keep"/> of the residual stream (each once, fewer than all of them).</summary>
    public static HiddenWidthResult Shrink(GraphModule model, IReadOnlyList<EncoderLayer> layers, IReadOnlyList<int> keep,
        IReadOnlyDictionary<string, Tensor>? sample = null)
    {
        var graph = model.Graph.Clone();
        var plan = HiddenStream.Plan(graph, layers, Values(model, sample));
        CheckWidth(keep.Count, plan.Width);
        foreach (int c in keep)
            if (c < 0 || c >= plan.Width) throw new CondenseException($"the stream has no channel {c}: it has channels 0–{plan.Width - 1}");
        if (keep.Distinct().Count() != keep.Count) throw new CondenseException("list each channel to keep once");
        return Apply(model, graph, plan, [.. keep.Order()]);
    }

    /// <summary>
    /// Each channel's score: Σ γ² + β² over the stream's layer norms (every per-channel constant applied to it); without
    /// any, the sum of squares of its column in every embedding table.
    /// </summary>
    public static double[] ChannelScores(GraphModule model, IReadOnlyList<EncoderLayer> layers, IReadOnlyDictionary<string, Tensor>? sample = null) =>
        Scores(model.Graph, HiddenStream.Plan(model.Graph, layers, Values(model, sample)));

    private static double[] Scores(ModelGraph graph, HiddenPlan plan)
    {
        var scores = new double[plan.Width];
        foreach (var name in plan.Scales.Count > 0 ? plan.Scales : plan.Tables)
        {
            // Channels are the last axis of both: a [D] (or broadcast [1, 1, D]) scale, a [rows, D] table.
            var data = graph.Initializers[name].Data;
            for (int i = 0; i < data.Length; i++) scores[i % plan.Width] += (double)data[i] * data[i];
        }
        return scores;
    }

    private static void CheckWidth(int width, int before)
    {
        if (width < 1 || width >= before)
            throw new CondenseException($"a student's hidden width must be 1–{before - 1} (the model's is {before}), got {width}");
    }

    private static HiddenWidthResult Apply(GraphModule model, ModelGraph graph, HiddenPlan plan, int[] keep)
    {
        foreach (var (name, axis) in plan.Slices)
        {
            var t = graph.Initializers[name];
            if (t.DataType != DataType.Float32 || graph.TypeOf(name) != ElementType.Float32)
                throw new CondenseException($"{name} is not a float32 tensor (quantized?): narrow the hidden width before quantizing");
            graph.Initializers[name] = StructuredPruning.Select(t, axis, 1, keep);
        }
        foreach (var reshape in plan.Reshapes) ReshapeTargets.Replace(graph, reshape, plan.Width, keep.Length, $"hidden width {keep.Length}");
        foreach (var output in plan.Outputs) Widen(graph, output, plan.Width, keep);
        graph.RemoveUnused();
        graph.Validate();
        var narrow = new GraphModule(graph);
        return new HiddenWidthResult(narrow, plan.Width, keep, model.ParameterCount(), narrow.ParameterCount());
    }

    // Graph output `output` becomes MatMul(narrow, selection) + 0; whatever read it reads the narrow value.
    private static void Widen(ModelGraph graph, string output, int width, int[] keep)
    {
        var taken = new HashSet<string>([.. graph.Inputs.Select(i => i.Name), .. graph.Initializers.Keys, .. graph.Nodes.SelectMany(n => n.Outputs)]);
        string narrow = Fresh($"{output}/narrow", taken), widened = Fresh($"{output}/widened", taken);
        string weight = Fresh($"{output}/widen.weight", taken), bias = Fresh($"{output}/widen.bias", taken);
        foreach (var node in graph.Nodes)
        {
            for (int i = 0; i < node.Inputs.Count; i++)
                if (node.Inputs[i] == output) node.Inputs[i] = narrow;
            for (int i = 0; i < node.Outputs.Count; i++)
                if (node.Outputs[i] == output) node.Outputs[i] = narrow;
        }
        var selection = Tensor.Zeros(keep.Length, width);
        for (int i = 0; i < keep.Length; i++) selection.Data[i * width + keep[i]] = 1f;
        graph.Initializers.Add(weight, selection);
        graph.Initializers.Add(bias, Tensor.Zeros(width));
        graph.Trainable.Add(weight);
        graph.Trainable.Add(bias);
        var names = graph.Nodes.Select(n => n.Name).ToHashSet();
        graph.Nodes.Add(new Node(Fresh($"{output}/widen/MatMul", names), OpTypes.MatMul, [narrow, weight], [widened]));
        graph.Nodes.Add(new Node(Fresh($"{output}/widen/Add", names), OpTypes.Add, [widened, bias], [output]));
    }

    private static Dictionary<string, Tensor> Values(GraphModule model, IReadOnlyDictionary<string, Tensor>? sample)
    {
        using var _ = GradMode.NoGrad();
        return model.Run(sample ?? EncoderLayers.DefaultSample(model.Graph));
    }

    private static string Fresh(string stem, HashSet<string> taken)
    {
        string name = stem;
        for (int k = 2; taken.Contains(name); k++) name = $"{stem}/{k}";
        taken.Add(name);
        return name;
    }
}
