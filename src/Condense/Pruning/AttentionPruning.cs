// Physical removal of attention heads (Michel et al. 2019, "Are Sixteen Heads Really Better than One?") and of
// feed-forward neurons in transformer graphs. Head h of a layer is columns h·d … h·d+d−1 of the query, key and value
// projections (with their biases) and the same rows of the output projection; without them the layer computes exactly
// what the original computes with that head's attention output masked to zero, in a narrower dense layer. A neuron
// is a column of the widening feed-forward layer (and its bias) and a row of the narrowing one. The head count also
// lives in the Reshape targets that split the projections into heads ([batch, length, heads, d]) and merge them back
// ([batch, length, heads·d]); ReshapeTargets rewrites those entries. Roles come from EncoderLayers.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>One layer's heads (or feed-forward neurons) before and after removal.</summary>
/// <param name="Layer">The layer's index.</param>
/// <param name="Before">Heads (neurons) it had.</param>
/// <param name="After">Heads (neurons) it has.</param>
/// <param name="Removed">The original indices of those removed, ascending.</param>
public sealed record LayerWidth(int Layer, int Before, int After, IReadOnlyList<int> Removed);

/// <summary>The narrower model and what changed; the input model is left as it was and shares no tensors with it.</summary>
/// <param name="Model">The new model.</param>
/// <param name="Unit">"heads" or "neurons".</param>
/// <param name="Layers">Every layer that was asked about, in order.</param>
/// <param name="ParametersBefore">Trainable parameters of the input model.</param>
/// <param name="ParametersAfter">Trainable parameters of the new model.</param>
public sealed record AttentionPruningResult(GraphModule Model, string Unit, IReadOnlyList<LayerWidth> Layers, long ParametersBefore,
    long ParametersAfter)
{
    /// <summary>One line: each layer's count before → after, and the parameters.</summary>
    public string Summary() => string.Join("; ", Layers.Select(l => $"layer {l.Layer}: {l.Before} → {l.After} {Unit}"))
        + $"; parameters {ParametersBefore:N0} → {ParametersAfter:N0}";
}

/// <summary>Removes attention heads and feed-forward neurons from transformer graphs.</summary>
public static partial class AttentionPruning
{
    /// <summary>
    /// Removes round(<paramref name="fraction"/> · heads) heads of every layer (at least one stays), those with the smallest
    /// <see cref="HeadScores"/>. <paramref name="layers"/> are <see cref="EncoderLayers.Find"/>'s for this model.
    /// </summary>
    public static AttentionPruningResult RemoveHeads(GraphModule model, IReadOnlyList<EncoderLayer> layers, double fraction) =>
        RemoveHeads(model, layers, Weakest(layers, fraction, layer => GroupScores(model, layer))
            .ToDictionary(r => r.Key, r => HeadsOfGroups(model.Graph, layers[r.Key], r.Value)));

    /// <summary>Removes the heads listed per layer (key: index into <paramref name="layers"/>; value: head indices).</summary>
    public static AttentionPruningResult RemoveHeads(GraphModule model, IReadOnlyList<EncoderLayer> layers, IReadOnlyDictionary<int, int[]> remove)
    {
        var graph = model.Graph.Clone();
        var index = new GraphIndex(graph);
        // Every layer is planned on the graph as it was (the index stays true), then cut.
        var plans = Checked(layers, remove, "head", layer => layer.Heads).Select(c => (c.Change, Plan: PlanHeads(graph, index, c.Layer))).ToList();
        var biasCopies = new List<(Node Before, List<Node> Copies)>();
        foreach (var (change, plan) in plans.Where(p => p.Change.Removed.Count > 0))
        {
            int[] keep = Kept(change), keepGroups = KeptGroups(change, plan.GroupSize);
            var roles = plan.Roles;
            if (plan.Split is { } split)
            {
                // Query, key and value are the three thirds of one output: head h is block h of each third.
                CutOutputs(graph, roles.Value, plan.HeadWidth, [.. Enumerable.Range(0, 3).SelectMany(part => keep.Select(h => part * change.Before + h))]);
                SplitSizes(graph, split, change.Before * plan.HeadWidth, keep.Length * plan.HeadWidth, change.Layer);
            }
            // Laid out head by head: head h is block h of 3 · head width.
            else if (roles.FusedPerHead) CutOutputs(graph, roles.Value, 3 * plan.HeadWidth, keep);
            else foreach (var projection in roles.QueryKey.Append(roles.Value))
                    CutOutputs(graph, projection, plan.HeadWidth, OutWidth(graph, projection) == change.Before * plan.HeadWidth ? keep : keepGroups);
            CutInputs(graph, roles.Output, plan.HeadWidth, keep);
            KeyValueCache.Narrow(graph, index, layers[change.Layer], change.Before / plan.GroupSize, keepGroups.Length, plan.HeadWidth);
            biasCopies.AddRange(HeadBias.Narrow(graph, index, layers[change.Layer], change.Before, keep));
            // A reshape carries the head count (splitting into heads), heads × head width (merging back), or three times that
            // (a fused projection's output before its Split).
            foreach (var (reshape, kind) in plan.Reshapes)
            {
                var (old, replacement) = kind switch
                {
                    HeadEntry.KeyValueHeads => (change.Before / plan.GroupSize, keepGroups.Length),
                    HeadEntry.Heads or HeadEntry.RepeatedHeads => (change.Before, keep.Length),
                    HeadEntry.Merged => (change.Before * plan.HeadWidth, keep.Length * plan.HeadWidth),
                    _ => (3 * change.Before * plan.HeadWidth, 3 * keep.Length * plan.HeadWidth),
                };
                // Repeated key/value heads are often reshaped by a count computed from shapes, with nothing to change.
                if (kind != HeadEntry.RepeatedHeads || ReshapeTargets.Has(graph, reshape, old))
                    ReshapeTargets.Replace(graph, reshape, old, replacement, $"layer {change.Layer}");
            }
        }
        foreach (var (before, copies) in biasCopies) graph.Nodes.InsertRange(graph.Nodes.IndexOf(before), copies);
        return Result(model, graph, "heads", plans.Select(p => p.Change));
    }

    /// <summary>
    /// Removes round(<paramref name="fraction"/> · neurons) feed-forward neurons of every layer (at least one stays), those
    /// with the smallest <see cref="NeuronScores"/>.
    /// </summary>
    public static AttentionPruningResult RemoveNeurons(GraphModule model, IReadOnlyList<EncoderLayer> layers, double fraction) =>
        RemoveNeurons(model, layers, Weakest(layers, fraction, layer => NeuronScores(model, layer)));

    /// <summary>Removes the feed-forward neurons listed per layer (key: index into <paramref name="layers"/>; value: neuron indices).</summary>
    public static AttentionPruningResult RemoveNeurons(GraphModule model, IReadOnlyList<EncoderLayer> layers, IReadOnlyDictionary<int, int[]> remove)
    {
        var graph = model.Graph.Clone();
        var index = new GraphIndex(graph);
        var plans = Checked(layers, remove, "neuron", layer => Hidden(graph, Roles(layer))).Select(c =>
        {
            var roles = Roles(c.Layer);
            Unshared(index, c.Layer, [roles.FeedForwardIn, roles.FeedForwardOut, .. Gate(roles)]);
            // A reshape between the two layers (Gemm exports flatten to 2-D) carries the hidden width.
            var reshapes = Reshapes(index, Gate(roles).Append(roles.FeedForwardIn).Select(l => l.Node), roles.FeedForwardOut.Node.Inputs[0]);
            return (c.Change, Roles: roles, Reshapes: reshapes);
        }).ToList();
        foreach (var (change, roles, reshapes) in plans.Where(p => p.Change.Removed.Count > 0))
        {
            int[] keep = Kept(change);
            foreach (var widening in Gate(roles).Append(roles.FeedForwardIn)) CutOutputs(graph, widening, 1, keep);
            CutInputs(graph, roles.FeedForwardOut, 1, keep);
            foreach (var reshape in reshapes) ReshapeTargets.Replace(graph, reshape, change.Before, keep.Length, $"layer {change.Layer}");
        }
        return Result(model, graph, "neurons", plans.Select(p => p.Change));
    }

    /// <summary>Each head's score: the L2 norm of its rows of the output projection (what it can add to the residual stream).</summary>
    public static double[] HeadScores(GraphModule model, EncoderLayer layer)
    {
        var output = Roles(layer).Output;
        return BlockNorms(model.Graph, output.Weight, 1 - OutAxis(output), layer.Heads);
    }

    /// <summary>
    /// Each feed-forward neuron's score: ‖its column of the widening weight‖₂ · ‖its row of the narrowing weight‖₂ (times
    /// ‖its column of the gate‖₂ in a gated block).
    /// </summary>
    public static double[] NeuronScores(GraphModule model, EncoderLayer layer)
    {
        var roles = Roles(layer);
        int hidden = Hidden(model.Graph, roles);
        var scores = BlockNorms(model.Graph, roles.FeedForwardOut.Weight, 1 - OutAxis(roles.FeedForwardOut), hidden);
        foreach (var w in Gate(roles).Append(roles.FeedForwardIn))
            scores = [.. scores.Zip(BlockNorms(model.Graph, w.Weight, OutAxis(w), hidden), (a, b) => a * b)];
        return scores;
    }

    private static IEnumerable<LinearNode> Gate(LayerProjections roles) => roles.FeedForwardGate is { } gate ? [gate] : [];

    // The Reshapes of the data flowing from the `from` nodes to `to` (not those of the shape arithmetic beside it).
    private static List<Node> Reshapes(GraphIndex index, IEnumerable<Node> from, string to)
    {
        var path = new HashSet<int>();
        foreach (var node in from)
        {
            path.Add(index.ProducerIndex(node.Outputs[0])!.Value);
            path.UnionWith(index.Descendants(node.Outputs[0]));
        }
        path.IntersectWith(index.Ancestors(to));
        return [.. path.Order().Select(i => index.Graph.Nodes[i])
            .Where(n => n.OpType == OpTypes.Reshape && index.ProducerIndex(n.Inputs[0]) is int p && path.Contains(p))];
    }

    // The layer's entry with its indices checked; layers missing from the dictionary are left out.
    private static List<(EncoderLayer Layer, LayerWidth Change)> Checked(IReadOnlyList<EncoderLayer> layers, IReadOnlyDictionary<int, int[]> remove,
        string unit, Func<EncoderLayer, int> count)
    {
        if (layers.Count == 0) throw new CondenseException("the model has no attention layers");
        var checkedLayers = new List<(EncoderLayer, LayerWidth)>();
        foreach (var (k, indices) in remove.OrderBy(r => r.Key))
        {
            if (k < 0 || k >= layers.Count) throw new CondenseException($"layer {k} does not exist: the model has layers 0–{layers.Count - 1}");
            int before = count(layers[k]);
            foreach (int i in indices)
                if (i < 0 || i >= before) throw new CondenseException($"layer {k} has no {unit} {i}: it has {unit}s 0–{before - 1}");
            var removed = indices.Distinct().Order().ToList();
            if (removed.Count >= before) throw new CondenseException($"layer {k}: keep at least one {unit} of its {before}");
            checkedLayers.Add((layers[k], new LayerWidth(k, before, before - removed.Count, removed)));
        }
        return checkedLayers;
    }

    // The round(fraction · n) lowest-scoring indices of every layer, at most n − 1.
    private static Dictionary<int, int[]> Weakest(IReadOnlyList<EncoderLayer> layers, double fraction, Func<EncoderLayer, double[]> scores)
    {
        if (!(fraction >= 0 && fraction < 1)) throw new CondenseException($"the fraction to remove must be in [0, 1), got {fraction}");
        var remove = new Dictionary<int, int[]>();
        for (int k = 0; k < layers.Count; k++)
        {
            var s = scores(layers[k]);
            int count = (int)Math.Min(s.Length - 1, Math.Round(fraction * s.Length, MidpointRounding.AwayFromZero));
            remove[k] = [.. Enumerable.Range(0, s.Length).OrderBy(i => s[i]).ThenBy(i => i).Take(count)];
        }
        return remove;
    }

    private static int[] Kept(LayerWidth change) => [.. Enumerable.Range(0, change.Before).Except(change.Removed)];

    private static AttentionPruningResult Result(GraphModule model, ModelGraph graph, string unit, IEnumerable<LayerWidth> changes)
    {
        graph.RemoveUnused();
        graph.Validate();
        var pruned = new GraphModule(graph);
        return new AttentionPruningResult(pruned, unit, [.. changes], model.ParameterCount(), pruned.ParameterCount());
    }

    internal static LayerProjections Roles(EncoderLayer layer) => layer.Projections
        ?? throw new CondenseException($"layer {layer.Index} (attention {layer.Softmax.Name}) does not have the plain pattern of separate "
            + "query, key, value, output and feed-forward projections: its heads and neurons cannot be removed");

    // The Split of a fused projection: sizes given (an input from opset 13, an attribute before) become the new width; without
    // them it splits equally, which still holds.
    private static void SplitSizes(ModelGraph graph, Node split, long before, long after, int layer)
    {
        if (split.Attributes.TryGetValue("split", out var sizes))
        {
            if (sizes.IntsValue!.Any(v => v != before))
                throw new CondenseException($"layer {layer}: the Split of query, key and value is not into equal thirds");
            split.Attributes["split"] = AttributeValue.Ints([.. sizes.IntsValue!.Select(_ => after)]);
        }
        else if (split.Inputs.Count > 1 && split.Inputs[1].Length > 0)
        {
            if (!graph.Initializers.TryGetValue(split.Inputs[1], out var t) || t.ToInt64Values().Any(v => v != before))
                throw new CondenseException($"layer {layer}: the Split of query, key and value is not into equal thirds by constant sizes");
            ReshapeTargets.Own(graph, split, 1);
            graph.Initializers[split.Inputs[1]] = Tensor.FromInt64s([after, after, after], DataType.Int64, [3]);
        }
    }

    // A weight another node also reads (tied layers) cannot lose heads in one layer only.
    private static void Unshared(GraphIndex index, EncoderLayer layer, params LinearNode[] projections)
    {
        foreach (var name in projections.SelectMany(p => new[] { p.Weight, p.Bias }).OfType<string>())
            if (index.ConsumersOf(name).Count() != 1)
                throw new CondenseException($"layer {layer.Index}: {name} is read by {index.ConsumersOf(name).Count()} nodes (shared weights)");
    }

    internal static int OutAxis(LinearNode linear) => linear.OutAxis;

    private static int OutWidth(ModelGraph graph, LinearNode linear) => graph.Initializers[linear.Weight].Shape[OutAxis(linear)];

    private static int InWidth(ModelGraph graph, LinearNode linear) => graph.Initializers[linear.Weight].Shape[1 - OutAxis(linear)];

    private static int Hidden(ModelGraph graph, LayerProjections roles)
    {
        int hidden = OutWidth(graph, roles.FeedForwardIn);
        if (roles.FeedForwardGate is { } gate && OutWidth(graph, gate) != hidden)
            throw new CondenseException($"{roles.FeedForwardIn.Weight} writes {hidden} neurons but the gate {gate.Weight} {OutWidth(graph, gate)}");
        if (InWidth(graph, roles.FeedForwardOut) != hidden)
            throw new CondenseException($"{roles.FeedForwardIn.Weight} writes {hidden} neurons but {roles.FeedForwardOut.Weight} reads "
                + $"{InWidth(graph, roles.FeedForwardOut)}");
        return hidden;
    }

    // Keeps the blocks of `block` outputs listed in `keep` (columns of a MatMul weight) and of the bias.
    private static void CutOutputs(ModelGraph graph, LinearNode linear, int block, int[] keep)
    {
        int axis = OutAxis(linear);
        int width = Cut(graph, linear.Weight, axis, block, keep);
        if (linear.Bias is not { } bias) return;
        if (graph.Initializers[bias].Shape is not [var length] || length != width)
            throw new CondenseException($"bias {bias} of {linear.Weight} is not a vector of its {width} outputs");
        Cut(graph, bias, 0, block, keep);
    }

    private static void CutInputs(ModelGraph graph, LinearNode linear, int block, int[] keep) => Cut(graph, linear.Weight, 1 - OutAxis(linear), block, keep);

    // Returns the length the axis had.
    private static int Cut(ModelGraph graph, string name, int axis, int block, int[] keep)
    {
        var t = graph.Initializers[name];
        if (t.DataType != DataType.Float32 || graph.TypeOf(name) != ElementType.Float32)
            throw new CondenseException($"{name} is not a float32 tensor (quantized?): remove heads and neurons before quantizing");
        graph.Initializers[name] = StructuredPruning.Select(t, axis, block, keep);
        return t.Shape[axis];
    }

    // The L2 norm of each of `count` equal blocks along `axis`.
    private static double[] BlockNorms(ModelGraph graph, string name, int axis, int count)
    {
        var t = graph.Initializers[name];
        int length = t.Shape[axis], outer = Shape.Size(t.Shape[..axis]), inner = Shape.Size(t.Shape[(axis + 1)..]), block = length / count;
        if (length % count != 0) throw new CondenseException($"{name}: {length} entries on axis {axis} do not split into {count} equal blocks");
        var sums = new double[count];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < length; c++)
                foreach (float v in t.Data.AsSpan((o * length + c) * inner, inner)) sums[c / block] += (double)v * v;
        return [.. sums.Select(Math.Sqrt)];
    }
}
