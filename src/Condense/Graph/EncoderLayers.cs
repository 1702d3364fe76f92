// The layers of a transformer graph as exporters write them (BERT-style post-norm encoders, GPT-style pre-norm
// blocks; LayerNormalization or its decomposition; fused or separate Q/K/V), found by structure, not by name:
// - each layer has one attention Softmax whose probabilities multiply the values (a MatMul with a computed operand);
// - the layer's input is the residual stream: the first Add after the Softmax that adds a value computed from the
//   Softmax to one that is not (nor a constant) but that the Softmax is computed from adds back the layer's input, in
//   post-norm, pre-norm and parallel blocks alike;
// - a layer's output is the next layer's input; the last layer's output is the last value after its Softmax made by
//   the same kind of node as its input's producer (same op, same number of constant operands) that every graph
//   output after that Softmax depends on (post-norm: the second layer norm; pre-norm: the residual Add);
// - a layer's nodes are those that depend on its input and that its output depends on.
// Roles inside a layer (which MatMul is a query, the output projection, the feed-forward pair) are what head and
// neuron removal need; a layer whose weights do not fit the plain pattern keeps them null, and layer dropping,
// which needs only inputs and outputs, still works.
using Condense.Autograd;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>A Linear layer of a transformer graph: a MatMul (or Gemm) by a weight initializer and its bias Add.</summary>
/// <param name="Node">The MatMul or Gemm node.</param>
/// <param name="Weight">The weight initializer, [in, out] for MatMul.</param>
/// <param name="Bias">The bias initializer added to its output, or null.</param>
public sealed record LinearNode(Node Node, string Weight, string? Bias)
{
    /// <summary>The weight's axis of outputs: MatMul weights are [in, out], and Gemm's too unless transB.</summary>
    public int OutAxis => Node.OpType == OpTypes.Gemm && Node.Int("transB", 0) != 0 ? 0 : 1;
}

/// <summary>The Linear layers of one attention + feed-forward block, when the block has the plain pattern.</summary>
/// <param name="QueryKey">The query and key projections (the two that feed the scores), in graph order.</param>
/// <param name="Value">The value projection.</param>
/// <param name="Output">The attention output projection.</param>
/// <param name="FeedForwardIn">The feed-forward layer that widens.</param>
/// <param name="FeedForwardOut">The feed-forward layer that narrows back.</param>
/// <param name="FusedSplit">
/// When one projection computes query, key and value at once (GPT-2's c_attn: <paramref name="QueryKey"/> is that projection
/// alone and <paramref name="Value"/> is it too), the Split that cuts its output into the three; null otherwise.
/// </param>
/// <param name="FeedForwardGate">
/// In a gated feed-forward block (SwiGLU, GeGLU: down(act(gate(x)) · up(x)), as Llama, Mistral and Qwen have), the widening
/// layer whose output passes the activation; <paramref name="FeedForwardIn"/> is then the other (up). Null in a plain block.
/// </param>
/// <param name="FusedPerHead">
/// True when one projection computes query, key and value laid out head by head ([heads, 3, head width]: GPT-NeoX, BLOOM),
/// reshaped to [.., heads, 3 · head width] and sliced; <paramref name="QueryKey"/> is that projection alone and
/// <paramref name="Value"/> is it too.
/// </param>
public sealed record LayerProjections(IReadOnlyList<LinearNode> QueryKey, LinearNode Value, LinearNode Output, LinearNode FeedForwardIn,
    LinearNode FeedForwardOut, Node? FusedSplit = null, LinearNode? FeedForwardGate = null, bool FusedPerHead = false);

/// <summary>One encoder (or decoder) layer of a transformer graph.</summary>
/// <param name="Index">Its position, from 0.</param>
/// <param name="Input">The residual-stream value the layer reads.</param>
/// <param name="Output">The residual-stream value it writes (the next layer's input).</param>
/// <param name="Softmax">The attention Softmax (its output: the attention probabilities [batch, heads, query, key]).</param>
/// <param name="Heads">Attention heads, from the probabilities' shape.</param>
/// <param name="Nodes">Names of the nodes that belong to the layer.</param>
/// <param name="Projections">The roles of its Linear layers, or null when the block has another pattern.</param>
public sealed record EncoderLayer(int Index, string Input, string Output, Node Softmax, int Heads, IReadOnlySet<string> Nodes,
    LayerProjections? Projections);

/// <summary>Finds the layers of transformer graphs.</summary>
public static class EncoderLayers
{
    /// <summary>
    /// The layers of <paramref name="model"/>, in order; empty when the graph has no attention. The model runs once on
    /// <paramref name="sample"/> (named inputs; default: 8 tokens of zeros with a mask of ones) to read head counts.
    /// </summary>
    public static IReadOnlyList<EncoderLayer> Find(GraphModule model, IReadOnlyDictionary<string, Tensor>? sample = null)
    {
        var graph = model.Graph;
        var index = new GraphIndex(graph);
        var softmaxes = graph.Nodes.Where(n => n.OpType == OpTypes.Softmax && IsAttention(n, index)).ToList();
        if (softmaxes.Count == 0) return [];
        var inputs = softmaxes.Select(s => ResidualInput(s, index)).ToList();
        var outputs = inputs.Skip(1).Append(LastOutput(softmaxes[^1], inputs[^1], index)).ToList();
        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = model.Run(sample ?? DefaultSample(graph));
        var layers = new List<EncoderLayer>();
        for (int k = 0; k < softmaxes.Count; k++)
        {
            var nodes = index.Descendants(inputs[k]);
            nodes.IntersectWith(index.Ancestors(outputs[k]));
            var names = nodes.Select(i => graph.Nodes[i].Name).ToHashSet();
            var probabilities = values[softmaxes[k].Outputs[0]];
            int heads = probabilities.Rank == 4 ? probabilities.Shape[1] : 1;
            layers.Add(new EncoderLayer(k, inputs[k], outputs[k], softmaxes[k], heads, names, Roles(softmaxes[k], nodes, index, values, heads)));
        }
        return layers;
    }

    // Attention probabilities multiply the values: some consumer is a MatMul whose other operand is computed — directly,
    // or through Casts back from the float32 the Softmax ran in (Llama's softmax(…, dtype=float32).to(q.dtype)).
    private static bool IsAttention(Node softmax, GraphIndex index)
    {
        var consumers = index.ConsumersOf(softmax.Outputs[0]).ToList();
        for (int i = 0; i < consumers.Count; i++)
            if (consumers[i].OpType is OpTypes.Cast or OpTypes.Identity) consumers.AddRange(index.ConsumersOf(consumers[i].Outputs[0]));
        return consumers.Any(c => c.OpType == OpTypes.MatMul && c.Inputs.All(i => !index.IsConstant(i)));
    }

    private static string ResidualInput(Node softmax, GraphIndex index)
    {
        var after = index.Descendants(softmax.Outputs[0]);
        // The stream also feeds the attention: in a parallel block (GPT-NeoX, GPT-J, Phi: x + attn(ln₁ x) + mlp(ln₂ x), often
        // summed as (mlp + attn) + x) the MLP's output is added first, and it is not the layer's input.
        var before = index.Ancestors(softmax.Outputs[0]);
        bool FeedsAttention(string value) => index.ProducerIndex(value) is not int p || before.Contains(p);
        foreach (int i in after.Order())
        {
            var node = index.Graph.Nodes[i];
            if (node.OpType != OpTypes.Add || node.Inputs.Count != 2) continue;
            bool[] fromAttention = [.. node.Inputs.Select(v => index.ProducerIndex(v) is int p && after.Contains(p))];
            for (int side = 0; side < 2; side++)
                if (fromAttention[side] && !fromAttention[1 - side] && !index.IsConstant(node.Inputs[1 - side]) && FeedsAttention(node.Inputs[1 - side]))
                    return node.Inputs[1 - side];
        }
        throw new CondenseException($"attention {softmax.Name} is not followed by a residual Add: not a transformer layer Condense can find");
    }

    private static string LastOutput(Node softmax, string lastInput, GraphIndex index)
    {
        var template = index.ProducerIndex(lastInput) is int p ? index.Graph.Nodes[p]
            : throw new CondenseException($"the last layer's input '{lastInput}' is a graph input: its output cannot be found by its form");
        int constants = template.Inputs.Count(index.IsConstant);
        var after = index.Descendants(softmax.Outputs[0]);
        var needed = index.Graph.Outputs.Select(o => o.Name)
            .Where(o => index.ProducerIndex(o) is int q && after.Contains(q)).Select(index.Ancestors).ToList();
        foreach (int i in after.OrderDescending())
        {
            var node = index.Graph.Nodes[i];
            if (node.OpType == template.OpType && node.Inputs.Count(index.IsConstant) == constants && needed.All(a => a.Contains(i)))
                return node.Outputs[0];
        }
        throw new CondenseException($"the output of the layer of attention {softmax.Name} has no node like its input's ({template.OpType})");
    }

    private static LayerProjections? Roles(Node softmax, HashSet<int> layer, GraphIndex index, Dictionary<string, Tensor> values, int heads)
    {
        var linears = layer.Order().Select(i => index.Graph.Nodes[i]).Where(n => n.OpType is OpTypes.MatMul or OpTypes.Gemm)
            .Select(n => Linear(n, index)).OfType<LinearNode>().ToList();
        var scores = index.Ancestors(softmax.Outputs[0]);
        var after = index.Descendants(softmax.Outputs[0]);
        int At(LinearNode l) => index.ProducerIndex(l.Node.Outputs[0])!.Value;
        var queryKey = linears.Where(l => scores.Contains(At(l))).ToList();
        var later = linears.Where(l => after.Contains(At(l))).ToList();
        var value = linears.Where(l => !scores.Contains(At(l)) && !after.Contains(At(l))).ToList();
        // A parallel block's MLP (GPT-NeoX, GPT-J, Phi) is beside the attention: before no score, after no Softmax, and not
        // feeding the values the probabilities multiply. Sequential blocks have theirs after the output projection.
        var weighted = index.Descendants(softmax.Outputs[0]).Order().Select(i => index.Graph.Nodes[i]).FirstOrDefault(n => n.OpType == OpTypes.MatMul);
        var valueSide = weighted is null ? [] : index.Ancestors(weighted.Outputs[0]);
        var beside = value.Where(l => !valueSide.Contains(At(l))).ToList();
        value = [.. value.Except(beside)];
        if (beside.Count > 0 && later.Count != 1) return null;
        var mlp = beside.Count > 0 ? beside : later.Skip(1).ToList();
        LayerProjections? With(IReadOnlyList<LinearNode> qk, LinearNode v, Node? split = null, bool perHead = false) => mlp.Count switch
        {
            2 => new LayerProjections(qk, v, later[0], mlp[0], mlp[1], split, FusedPerHead: perHead),
            3 when Gated(mlp[0], mlp[1], mlp[2], index) is var (up, gate) => new LayerProjections(qk, v, later[0], up, mlp[2], split, gate, perHead),
            _ => null,
        };
        if (later.Count == 0) return null;
        if (queryKey.Count == 2 && value.Count == 1) return With(queryKey, value[0]);
        if (queryKey.Count != 1 || value.Count != 0) return null;
        // Fused: one projection feeds the scores and the values, through a Split into three equal parts on the last axis, or
        // reshaped to [.., heads, 3 · head width] and sliced (head by head).
        var fused = queryKey[0];
        var split = index.Descendants(fused.Node.Outputs[0]).Order().Select(i => index.Graph.Nodes[i])
            .FirstOrDefault(n => n.OpType == OpTypes.Split && n.Outputs.Count == 3);
        if (split is not null) return layer.Contains(index.ProducerIndex(split.Outputs[0])!.Value) ? With(queryKey, fused, split) : null;
        int width = index.Graph.Initializers[fused.Weight].Shape[fused.OutAxis];
        var byHead = index.ConsumersOf(Written(fused, index)).FirstOrDefault(c => c.OpType == OpTypes.Reshape);
        return byHead is not null && values.TryGetValue(byHead.Outputs[0], out var shaped) && shaped.Rank == 4 && shaped.Shape[2] == heads
            && shaped.Shape[3] * heads == width && width % (3 * heads) == 0 ? With(queryKey, fused, perHead: true) : null;
    }

    // A gated feed-forward block: two layers read the same value and their outputs meet in one Mul that the narrowing layer
    // reads; the gate is the one whose output passes through other nodes (the activation) on the way (up, gate).
    private static (LinearNode Up, LinearNode Gate)? Gated(LinearNode a, LinearNode b, LinearNode down, GraphIndex index)
    {
        if (a.Node.Inputs[0] != b.Node.Inputs[0] || index.ProducerIndex(down.Node.Inputs[0]) is not int product) return null;
        var mul = index.Graph.Nodes[product];
        if (mul.OpType != OpTypes.Mul || mul.Inputs.Count != 2) return null;
        bool Direct(LinearNode l) => mul.Inputs.Contains(Written(l, index));
        bool Reaches(LinearNode l) => mul.Inputs.Any(i => i == Written(l, index) || index.ProducerIndex(i) is int p
            && index.Descendants(Written(l, index)).Contains(p));
        if (!Reaches(a) || !Reaches(b) || mul.Inputs.Any(i => index.ProducerIndex(i) is int p
            && index.Descendants(a.Node.Outputs[0]).Contains(p) && index.Descendants(b.Node.Outputs[0]).Contains(p))) return null;
        return Direct(a) && !Direct(b) ? (a, b) : (b, a);
    }

    // The value a Linear writes: its bias Add's output when it has one (Linear found exactly one), else its own.
    private static string Written(LinearNode linear, GraphIndex index) => linear.Bias is null ? linear.Node.Outputs[0]
        : index.ConsumersOf(linear.Node.Outputs[0]).Single(c => c.OpType == OpTypes.Add).Outputs[0];

    // A MatMul whose second operand is a 2-D trainable initializer (Gemm: its B), with the bias Add that follows, if any.
    private static LinearNode? Linear(Node node, GraphIndex index)
    {
        if (node.Inputs.Count < 2 || !index.Graph.Trainable.Contains(node.Inputs[1])) return null;
        if (index.Graph.Initializers[node.Inputs[1]].Rank != 2 || index.IsConstant(node.Inputs[0])) return null;
        if (node.OpType == OpTypes.Gemm)
            return new LinearNode(node, node.Inputs[1], node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? node.Inputs[2] : null);
        var adds = index.ConsumersOf(node.Outputs[0]).Where(c => c.OpType == OpTypes.Add).ToList();
        string? bias = adds.Count == 1 ? adds[0].Inputs.FirstOrDefault(i => i != node.Outputs[0] && index.Graph.Trainable.Contains(i)
            && index.Graph.Initializers[i].Rank == 1) : null;
        return new LinearNode(node, node.Inputs[1], bias);
    }

    /// <summary>
    /// A sample feed that reads a transformer's shapes: zeros for every input, ones for masks, 8 positions (batch 1 where
    /// the batch is dynamic).
    /// </summary>
    public static Dictionary<string, Tensor> DefaultSample(ModelGraph graph) => graph.Inputs.ToDictionary(i => i.Name, i =>
    {
        int[] shape = i.Shape.Length == 0 ? [1, 8] : [.. i.Shape.Select((d, a) => d > 0 ? d : a == 0 ? 1 : 8)];
        var t = Tensor.Zeros(shape);
        if (i.Name.Contains("mask", StringComparison.OrdinalIgnoreCase)) t.Data.AsSpan().Fill(1f);
        return t;
    });
}
