// ONNX Split and Tile (Ops/IndexOps): parts as strided blocks (Tensor.Strided), repetitions as Take over an index map, for every element type.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // Split: the part sizes are the 'split' input (opset 13+, and opset 1's optional second input) or attribute
    // (opsets 2–12); without them, num_outputs (opset 18) parts of ceil(dim / num_outputs) with a smaller last one, or
    // one equal part per output (which must divide the axis).
    internal static Tensor[] Split(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        int axis = AxisOf(node, node.Int("axis", 0), x.Rank);
        int dim = x.Shape[axis], parts = node.Outputs.Count;
        var sizes = Optional(inputs, 1)?.ToInt64Values() ?? Ints(node, "split");
        if (sizes is null && node.Attributes.ContainsKey("num_outputs"))
        {
            long n = node.Int("num_outputs", parts);
            if (n != parts) throw IndexError(node, $"num_outputs is {n} but the node has {parts} outputs");
            long chunk = (dim + n - 1) / n;
            sizes = [.. Enumerable.Repeat(chunk, parts - 1), dim - chunk * (parts - 1)];
        }
        else if (sizes is null)
        {
            if (dim % parts != 0) throw IndexError(node, $"an axis of {dim} cannot be split evenly into {parts} outputs");
            sizes = [.. Enumerable.Repeat((long)(dim / parts), parts)];
        }
        if (sizes.Length != parts || sizes.Any(s => s < 0) || sizes.Sum() != dim)
            throw IndexError(node, $"parts [{string.Join(", ", sizes)}] do not split an axis of {dim} into {parts} outputs");
        var outputs = new Tensor[parts];
        var start = new int[x.Rank];
        var step = Enumerable.Repeat(1, x.Rank).ToArray();
        for (int i = 0; i < parts; i++)
        {
            var count = (int[])x.Shape.Clone();
            count[axis] = (int)sizes[i];
            outputs[i] = x.Strided(start, step, count);
            start[axis] += count[axis];
        }
        return outputs;
    }

    // Tile: repeats (int64, one per dimension, none negative) copies of the input along each dimension.
    internal static Tensor Tile(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var repeats = Required(node, inputs, 1).ToInt64Values();
        if (repeats.Length != x.Rank) throw IndexError(node, $"{repeats.Length} repeats for a rank-{x.Rank} input");
        if (repeats.Any(r => r < 0)) throw IndexError(node, "a repeat is negative");
        if (x.Shape.Select((d, i) => d * repeats[i]).Aggregate(1.0, (size, d) => size * d) > int.MaxValue)
            throw IndexError(node, "the tiled tensor would hold more than 2^31 elements");
        var shape = x.Shape.Select((d, i) => (int)(d * repeats[i])).ToArray();
        return x.Take(IndexMaps.Tile(x.Shape, [.. repeats.Select(r => (int)r)]), shape);
    }
}
