// The residual stream of a transformer graph and every tensor indexed by its width D, found by following the values
// whose last axis is the stream's channels ("stream values"), from the embedding tables forward in graph order:
// - the seeds are the Gathers of D-wide tables (word, position, token type) that the first layer's input depends on;
// - an elementwise op with a stream operand writes a stream value; its constant operands of last dimension D are
//   per-channel (layer-norm gamma and beta, decomposed or not) and its computed ones are writers (below);
// - a reduction keeps the stream unless it reduces the last axis (a decomposed layer norm's mean and variance);
//   Shape reads it to compute shapes, which follow by themselves;
// - a Linear (MatMul or Gemm by a weight) reads it: the weight's input rows (Q/K/V, feed-forward-in, a pooler);
// - a writer is what a residual Add adds to the stream: walking back through its bias Add (or Reshapes) ends at a
//   Linear whose output columns (and bias) are channels (the attention output and feed-forward-out projections);
// - a Reshape, Gather, Slice, (Un)Squeeze or Transpose that keeps the channels last passes the stream on; a Reshape
//   whose target holds D as a constant must change it. Merge-heads Reshapes read attention contexts, never the
//   stream, so their heads·d is left alone even when it equals D.
// Anything else that reads the stream is an error naming the node: Condense does not guess what it computes.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

/// <summary>What narrowing the residual stream changes.</summary>
/// <param name="Width">The stream's width D.</param>
/// <param name="Slices">Initializers indexed by the channels, with the axis that is.</param>
/// <param name="Tables">The embedding tables, in graph order.</param>
/// <param name="Scales">Per-channel constants applied to stream values (layer-norm gamma and beta), in graph order.</param>
/// <param name="Reshapes">Reshapes of stream values whose constant target holds D.</param>
/// <param name="Outputs">Graph outputs that are stream values.</param>
internal sealed record HiddenPlan(int Width, IReadOnlyDictionary<string, int> Slices, IReadOnlyList<string> Tables, IReadOnlyList<string> Scales,
    IReadOnlyList<Node> Reshapes, IReadOnlyList<string> Outputs);

/// <summary>Finds the residual stream of a graph and the tensors its width indexes.</summary>
internal sealed class HiddenStream
{
    private static readonly HashSet<string> Elementwise = [OpTypes.Add, OpTypes.Sub, OpTypes.Mul, OpTypes.Div, OpTypes.Pow, OpTypes.Sqrt,
        OpTypes.Erf, OpTypes.Tanh, OpTypes.Relu, OpTypes.Sigmoid, OpTypes.Neg, OpTypes.Identity, OpTypes.Cast, OpTypes.Dropout];
    private static readonly HashSet<string> Reductions = [OpTypes.ReduceMean, OpTypes.ReduceSum, OpTypes.ReduceMax, OpTypes.ReduceMin,
        OpTypes.ReduceSumSquare];
    private static readonly HashSet<string> Moves = [OpTypes.Gather, OpTypes.Slice, OpTypes.Squeeze, OpTypes.Unsqueeze, OpTypes.Transpose];

    private readonly GraphIndex _index;
    private readonly IReadOnlyDictionary<string, Tensor> _values;
    private readonly int _width;
    private readonly HashSet<string> _stream = [];
    private readonly Dictionary<string, (int Axis, HashSet<Node> Readers)> _slices = [];
    private readonly List<string> _scales = [];
    private readonly List<Node> _reshapes = [];

    private HiddenStream(GraphIndex index, IReadOnlyDictionary<string, Tensor> values, int width) =>
        (_index, _values, _width) = (index, values, width);

    private ModelGraph Graph => _index.Graph;

    /// <summary>
    /// The plan for <paramref name="graph"/>, whose <paramref name="layers"/> were found on it (or on a graph it is a copy
    /// of); <paramref name="values"/> are every value of one run, for shapes.
    /// </summary>
    public static HiddenPlan Plan(ModelGraph graph, IReadOnlyList<EncoderLayer> layers, IReadOnlyDictionary<string, Tensor> values)
    {
        if (layers.Count == 0) throw new CondenseException("the model has no attention layers: it has no residual stream to narrow");
        var index = new GraphIndex(graph);
        int width = values[layers[0].Input].Shape[^1];
        var stream = new HiddenStream(index, values, width);
        var before = index.Ancestors(layers[0].Input);
        var seeds = before.Order().Select(i => graph.Nodes[i]).Where(stream.IsEmbedding).ToList();
        if (seeds.Count == 0)
            throw new CondenseException($"no embedding table of width {width} feeds the first layer's input '{layers[0].Input}': "
                + "its stream cannot be narrowed");
        foreach (var gather in seeds)
        {
            stream.Slice(gather.Inputs[0], 1, gather);
            stream._stream.Add(gather.Outputs[0]);
        }
        foreach (var node in graph.Nodes.Where(n => !seeds.Contains(n)))
            if (node.Inputs.Any(stream._stream.Contains)) stream.Follow(node);
        foreach (var layer in layers)
            if (!stream._stream.Contains(layer.Input) || !stream._stream.Contains(layer.Output))
                throw new CondenseException($"layer {layer.Index}'s input and output are not both on the residual stream of width {width}");
        stream.CheckUnshared();
        return new HiddenPlan(width, stream._slices.ToDictionary(s => s.Key, s => s.Value.Axis), [.. seeds.Select(g => g.Inputs[0]).Distinct()],
            [.. stream._scales.Distinct()], [.. stream._reshapes.Distinct()], [.. graph.Outputs.Select(o => o.Name).Where(stream._stream.Contains)]);
    }

    // A Gather (axis 0) of a rank-2 float table D wide.
    private bool IsEmbedding(Node node) => node.OpType == OpTypes.Gather && node.Int("axis", 0) == 0
        && Graph.Initializers.TryGetValue(node.Inputs[0], out var table) && table.Rank == 2 && table.Shape[1] == _width;

    private void Follow(Node node)
    {
        switch (node.OpType)
        {
            case OpTypes.Shape:
                return;
            case OpTypes.MatMul or OpTypes.Gemm:
                ReadByLinear(node);
                return;
            case OpTypes.LayerNormalization:
                if (!_stream.Contains(node.Inputs[0]) || node.Inputs.Skip(1).Any(_stream.Contains)) throw Unsupported(node, "normalizes something else");
                long axis = node.Int("axis", -1);
                if (axis != -1 && axis != _values[node.Inputs[0]].Rank - 1) throw Unsupported(node, $"normalizes over axis {axis}, not the channels");
                foreach (var parameter in node.Inputs.Skip(1).Where(p => p.Length > 0)) Operand(node, parameter);
                _stream.Add(node.Outputs[0]);
                return;
            case var op when Elementwise.Contains(op):
                foreach (var input in node.Inputs.Where(i => i.Length > 0 && !_stream.Contains(i))) Operand(node, input);
                _stream.Add(node.Outputs[0]);
                return;
            case var op when Reductions.Contains(op):
                if (!ReducesChannels(node)) _stream.Add(node.Outputs[0]);
                return;
            case OpTypes.Reshape:
                RequireChannelsLast(node);
                if (HasConstantWidth(node)) _reshapes.Add(node);
                _stream.Add(node.Outputs[0]);
                return;
            case var op when Moves.Contains(op):
                if (!_stream.Contains(node.Inputs[0]) || node.Inputs.Skip(1).Any(_stream.Contains)) throw Unsupported(node, "uses it as indices or a shape");
                RequireChannelsLast(node);
                _stream.Add(node.Outputs[0]);
                return;
            default:
                throw Unsupported(node, "is not an op whose channels Condense can follow");
        }
    }

    // The stream is the first operand and the weight a 2-D initializer: its input rows are channels.
    private void ReadByLinear(Node node)
    {
        if (!_stream.Contains(node.Inputs[0]) || node.Inputs.Skip(1).Any(_stream.Contains) || node.Int("transA", 0) != 0
            || !Graph.Initializers.TryGetValue(node.Inputs[1], out var weight) || weight.Rank != 2)
            throw Unsupported(node, "multiplies it by something other than a weight matrix");
        int axis = node.OpType == OpTypes.Gemm && node.Int("transB", 0) != 0 ? 1 : 0;
        Slice(node.Inputs[1], axis, node);
    }

    // A non-stream operand of an op that writes the stream: a per-channel constant, a broadcast one, or a writer.
    private void Operand(Node node, string input)
    {
        if (Graph.Initializers.TryGetValue(input, out var constant))
        {
            if (constant.Rank > 0 && constant.Shape[^1] == _width)
            {
                Slice(input, constant.Rank - 1, node);
                _scales.Add(input);
            }
            return;
        }
        if (_values[input].Shape is [.., var last] && last == _width) Writer(input, node);
    }

    // Walks back from what `reader` adds to the stream to the Linear that computes it.
    private void Writer(string value, Node reader)
    {
        while (true)
        {
            var producer = _index.ProducerIndex(value) is int p ? Graph.Nodes[p]
                : throw Unsupported(reader, $"adds input '{value}' to it");
            switch (producer.OpType)
            {
                case OpTypes.Add when producer.Inputs.Count(Graph.Initializers.ContainsKey) == 1:
                    string bias = producer.Inputs.First(Graph.Initializers.ContainsKey);
                    Slice(bias, Graph.Initializers[bias].Rank - 1, producer);
                    value = producer.Inputs.First(i => i != bias);
                    continue;
                case OpTypes.Reshape or OpTypes.Identity:
                    if (producer.OpType == OpTypes.Reshape && HasConstantWidth(producer)) _reshapes.Add(producer);
                    value = producer.Inputs[0];
                    continue;
                case OpTypes.MatMul when Graph.Initializers.TryGetValue(producer.Inputs[1], out var w) && w.Rank == 2:
                    Slice(producer.Inputs[1], 1, producer);
                    return;
                case OpTypes.Gemm when Graph.Initializers.ContainsKey(producer.Inputs[1]):
                    Slice(producer.Inputs[1], producer.Int("transB", 0) != 0 ? 0 : 1, producer);
                    if (producer.Inputs.Count > 2 && Graph.Initializers.TryGetValue(producer.Inputs[2], out var b) && b.Rank > 0 && b.Shape[^1] == _width)
                        Slice(producer.Inputs[2], b.Rank - 1, producer);
                    return;
                default:
                    throw Unsupported(reader, $"adds '{value}' to it, computed by {producer.Name} ({producer.OpType}) rather than a Linear layer");
            }
        }
    }

    private void Slice(string name, int axis, Node reader)
    {
        var t = Graph.Initializers[name];
        if (t.Shape[axis] != _width)
            throw new CondenseException($"{name} has {t.Shape[axis]} entries on axis {axis} where node {reader.Name} needs the stream's {_width} channels");
        if (_slices.TryGetValue(name, out var slice))
        {
            if (slice.Axis != axis) throw new CondenseException($"{name} is indexed by the channels on axes {slice.Axis} and {axis}");
            slice.Readers.Add(reader);
        }
        else _slices[name] = (axis, [reader]);
    }

    // A tensor read elsewhere too (tied embeddings, a merged constant) cannot lose channels for one reader only.
    private void CheckUnshared()
    {
        foreach (var (name, (_, readers)) in _slices)
            if (_index.ConsumersOf(name).FirstOrDefault(c => !readers.Contains(c)) is { } other)
                throw new CondenseException($"{name} is indexed by the stream's channels but also read by {other.Name} ({other.OpType}): shared tensor");
    }

    private bool ReducesChannels(Node node)
    {
        int rank = _values[node.Inputs[0]].Rank;
        long[]? axes = node.Attributes.TryGetValue("axes", out var attribute) ? attribute.IntsValue
            : node.Inputs.Count > 1 && node.Inputs[1].Length > 0 ? Graph.Initializers.TryGetValue(node.Inputs[1], out var t) ? t.ToInt64Values()
                : throw Unsupported(node, "reduces it over computed axes") : null;
        // No axes: all of them (unless noop_with_empty_axes).
        return axes is null || axes.Length == 0 ? node.Int("noop_with_empty_axes", 0) == 0 : axes.Any(a => a == -1 || a == rank - 1);
    }

    private void RequireChannelsLast(Node node)
    {
        var input = _values[node.Inputs[0]].Shape;
        var output = _values[node.Outputs[0]].Shape;
        bool last = output.Length > 0 && output[^1] == _width && node.OpType switch
        {
            OpTypes.Gather => node.Int("axis", 0) is var a && a != -1 && a != input.Length - 1,
            OpTypes.Transpose => node.Attributes.TryGetValue("perm", out var perm) && perm.IntsValue![^1] == input.Length - 1,
            _ => true,
        };
        if (!last) throw Unsupported(node, "moves or cuts its channel axis");
    }

    // Whether the Reshape's target (a constant, or a Concat with constant pieces) spells D out.
    private bool HasConstantWidth(Node reshape)
    {
        string target = reshape.Inputs[1];
        if (Graph.Initializers.TryGetValue(target, out var t)) return t.ToInt64Values().Contains(_width);
        var concat = _index.ProducerIndex(target) is int p ? Graph.Nodes[p] : null;
        return concat?.OpType == OpTypes.Concat
            && concat.Inputs.Any(i => Graph.Initializers.TryGetValue(i, out var piece) && piece.ToInt64Values().Contains(_width));
    }

    private static CondenseException Unsupported(Node node, string what) =>
        new($"node {node.Name} ({node.OpType}) reads the residual stream and {what}: Condense cannot narrow the stream's width");
}
