// The graph-reading half of BatchDimension.Check: which nodes fix the batch. Values whose dimension 0 is the batch are
// followed from the inputs (Shape and Size end the trail: they give sizes, not samples); constants are the initializers
// and what nodes compute from them alone (their values taken from one run of a single sample). A node fixes the batch
// when it treats dimension 0 of a batch value as data: reshapes it to a constant shape starting with 1, flattens at axis
// 0, gathers, slices, splits, squeezes, tiles, concatenates, reduces or normalizes along it, or concatenates batch values
// with a constant of first dimension 1 (an Expand, ConstantOfShape or Tile with a constant leading 1, such as a class
// token, fits one sample only). Broadcasting ops are fine: a constant of first dimension 1 broadcasts over any batch.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class BatchDimension
{
    private static readonly HashSet<string> Reductions =
    [
        OpTypes.ReduceSum, OpTypes.ReduceMean, OpTypes.ReduceMax, OpTypes.ReduceMin, OpTypes.ReduceProd, OpTypes.ReduceSumSquare,
        OpTypes.ReduceL1, OpTypes.ReduceL2, OpTypes.ReduceLogSum, OpTypes.ReduceLogSumExp,
    ];

    // The first node that fixes the batch, as "node 'name' (Op) does what", or null.
    private static string? GraphReason(ModelGraph graph, IReadOnlyDictionary<string, Tensor> values)
    {
        var batch = graph.Inputs.Select(i => i.Name).ToHashSet();
        var constants = graph.Initializers.Keys.ToHashSet();
        foreach (var node in graph.Nodes)
        {
            var read = node.Inputs.Where(i => i.Length > 0).ToList();
            bool readsBatch = read.Any(batch.Contains);
            if (readsBatch && new NodeView(graph, node, values, constants).FixesBatch(batch) is { } what)
                return $"node '{node.Name}' ({node.OpType}) {what}";
            if (readsBatch && node.OpType is not (OpTypes.Shape or OpTypes.Size)) batch.UnionWith(node.Outputs);
            else if (read.Count > 0 && read.All(constants.Contains)) constants.UnionWith(node.Outputs);
        }
        return null;
    }

    // One node with what the run and the constants tell about its inputs.
    private sealed class NodeView(ModelGraph graph, Node node, IReadOnlyDictionary<string, Tensor> values, HashSet<string> constants)
    {
        // The node reads a batch value: does it use dimension 0 as data? (Input 0 must be the batch value, but for Concat.)
        public string? FixesBatch(HashSet<string> batch)
        {
            if (node.OpType == OpTypes.Concat)
                return Axis("axis", 0, values.TryGetValue(node.Inputs[0], out var part) ? part.Rank : 0) == 0 ? "concatenates along the batch axis"
                    : JoinsFixedConstant();
            if (!batch.Contains(node.Inputs[0])) return null;
            int rank = values.TryGetValue(node.Inputs[0], out var x) ? x.Rank : 0;
            switch (node.OpType)
            {
                case OpTypes.Reshape when Ints(1, null) is [1, ..] shape:
                    return $"reshapes a batch value to the constant shape [{string.Join(", ", shape)}], fixing the batch at 1";
                case OpTypes.Flatten when Axis("axis", 1, rank) == 0:
                    return "flattens at axis 0, folding the batch into one row";
                case OpTypes.Gather when Axis("axis", 0, rank) == 0:
                    return "gathers along the batch axis";
                case OpTypes.Split when Axis("axis", 0, rank) == 0:
                    return "splits along the batch axis";
                case OpTypes.Tile when Ints(1, null) is [not 1, ..]:
                    return "tiles along the batch axis";
                case OpTypes.Softmax or OpTypes.LogSoftmax or OpTypes.Hardmax when Axis("axis", -1, rank) == 0:
                    return "normalizes over the batch axis";
                case OpTypes.Squeeze:
                    return !Known(1) ? null : Ints(1, "axes") is { Length: > 0 } axes ? (axes.Any(a => Normal(a, rank) == 0) ? "squeezes the batch axis" : null)
                        : "squeezes every axis of size 1, the batch among them";
                case OpTypes.Slice:
                    return SlicesBatch(rank) ? "slices the batch axis" : null;
                case var op when Reductions.Contains(op):
                    return ReducesBatch(rank);
                default:
                    return null;
            }
        }

        // A Concat along another axis of batch values and a constant whose dimension 0 is 1: right for one sample only.
        private string? JoinsFixedConstant()
        {
            foreach (var input in node.Inputs.Where(i => constants.Contains(i) && values.TryGetValue(i, out var v) && v.Shape is [1, _, ..]))
            {
                string source = graph.Producer(input) is { } p ? $", made by node '{p.Name}' ({p.OpType}) from constants" : "";
                return $"concatenates batch values with the constant '{input}' of shape {Shape.Format(values[input].Shape)}{source}: "
                    + "its first dimension is fixed at 1";
            }
            return null;
        }

        private string? ReducesBatch(int rank)
        {
            if (!Known(1)) return null;
            var axes = Ints(1, "axes");
            if (axes is { Length: > 0 }) return axes.Any(a => Normal(a, rank) == 0) ? "reduces over the batch axis" : null;
            return node.Int("noop_with_empty_axes", 0) != 0 ? null : "reduces over every axis, the batch among them";
        }

        // Slice keeps the whole batch only with start 0, an end past any size and step 1 on axis 0 (axes: input 3 or the attribute).
        private bool SlicesBatch(int rank)
        {
            if (!Known(1) || !Known(2) || !Known(3) || !Known(4)) return false;
            var starts = Ints(1, "starts");
            var ends = Ints(2, "ends");
            if (starts is null || ends is null) return false;
            var axes = Ints(3, "axes") ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
            var steps = Ints(4, null);
            int at = Array.FindIndex(axes, a => Normal(a, rank) == 0);
            return at >= 0 && (starts[at] != 0 || ends[at] < int.MaxValue || steps is not null && steps[at] != 1);
        }

        // True when input i is absent or a constant (so its values are known).
        private bool Known(int i) => i >= node.Inputs.Count || node.Inputs[i].Length == 0 || constants.Contains(node.Inputs[i]);

        // Integers from constant input i, else from the attribute (older opsets); null when neither is there or the input is computed.
        private long[]? Ints(int i, string? attribute)
        {
            if (i < node.Inputs.Count && node.Inputs[i].Length > 0)
                return constants.Contains(node.Inputs[i]) && values.TryGetValue(node.Inputs[i], out var t) ? t.ToInt64Values() : null;
            return attribute is not null && node.Attributes.TryGetValue(attribute, out var a) ? a.IntsValue : null;
        }

        private int Axis(string attribute, long fallback, int rank) => Normal(node.Int(attribute, fallback), rank);

        private static int Normal(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);
    }
}
