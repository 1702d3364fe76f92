// A zero Pad of the spatial axes folded into the Conv or AveragePool that alone reads it, as ONNX Runtime's PadFusion does
// at load: PyTorch exports avg_pool2d(padding=p) with count_include_pad (its default; Inception-v3's branch pools) as Pad
// then an unpadded AveragePool before opset 19, and TensorFlow's and Keras's ZeroPadding2D becomes a Pad before a Conv.
// Each Pad was a copy of the image into a larger one; the op's own pads read the same zeros without it. A Conv's padding is
// zeros, so Conv(Pad(x)) = Conv(x, pads + p); an AveragePool over the padded image divides by the whole window, which is
// count_include_pad = 1 over the same pads (its own pads, if any, must already count). Only constant zero pads on the
// spatial axes, none negative, with explicit pads on the op (no auto_pad) and, for the pool, no ceil mode (whose
// overhang windows would be counted differently) fold; anything else stays as it is.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Folds zero Pads into the Conv or AveragePool after them.</summary>
internal static class PadFusion
{
    /// <summary>A copy of <paramref name="graph"/> with every foldable Pad folded into its reader; null when none is.</summary>
    public static ModelGraph? Fuse(ModelGraph graph)
    {
        var matcher = new Matcher(graph);
        var replacements = new Dictionary<Node, IReadOnlyList<Node>>();
        foreach (var node in graph.Nodes)
            if (matcher.Folded(node) is { } fused) replacements[node] = [fused];
        return replacements.Count == 0 ? null : GraphPattern.Rewrite(graph, replacements);
    }

    private sealed class Matcher(ModelGraph graph) : GraphPattern(graph)
    {
        // The Conv or AveragePool with the Pad before it folded into its pads, or null.
        public Node? Folded(Node node)
        {
            bool pool = node.OpType == OpTypes.AveragePool;
            if ((!pool && node.OpType != OpTypes.Conv) || node.Inputs.Count == 0 || SpatialAxes(node) is not int spatial) return null;
            if (OnlyFeeds(node.Inputs[0], OpTypes.Pad) is not { } pad || SpatialPads(pad, spatial + 2) is not { } added) return null;
            if (node.Attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.StringValue is not (null or "NOTSET")) return null;
            var own = node.Attributes.TryGetValue("pads", out var p) && p.IntsValue is { } values ? values : new long[2 * spatial];
            if (own.Length != 2 * spatial) return null;
            if (pool && (node.Int("ceil_mode", 0) != 0 || node.Int("count_include_pad", 0) == 0 && own.Any(v => v != 0))) return null;
            var attributes = new Dictionary<string, AttributeValue>(node.Attributes)
            {
                ["pads"] = AttributeValue.Ints([.. own.Select((v, i) => v + added[i])]),
            };
            if (pool) attributes["count_include_pad"] = AttributeValue.Int(1);
            return new Node(node.Name, node.OpType, [pad.Inputs[0], .. node.Inputs.Skip(1)], node.Outputs, attributes);
        }

        // How many spatial axes the op works on: its kernel_shape's length, or a Conv's weight's rank less 2; null if unknown.
        private int? SpatialAxes(Node node)
        {
            if (node.Attributes.TryGetValue("kernel_shape", out var kernel) && kernel.IntsValue is { Length: > 0 } k) return k.Length;
            return node.OpType == OpTypes.Conv && node.Inputs.Count > 1 && Graph.Initializers.TryGetValue(node.Inputs[1], out var w) && w.Rank > 2
                ? w.Rank - 2 : null;
        }

        // A constant-mode zero Pad's pads of an input of this rank as [begins…, ends…] of the spatial axes (those after N and
        // C), when they are constants, none negative and none on N or C; null otherwise.
        private long[]? SpatialPads(Node pad, int rank)
        {
            if (pad.Attributes.TryGetValue("mode", out var mode) && mode.StringValue is not (null or "constant") || !PadsWithZero(pad)) return null;
            if (pad.Inputs.Count < 2 || Integers(pad.Inputs[1]) is not { } given) return null;
            var pads = given;
            if (pad.Inputs.Count > 3 && pad.Inputs[3] != "")
            {
                if (Integers(pad.Inputs[3]) is not { } axes || given.Length != 2 * axes.Length) return null;
                pads = new long[2 * rank];
                for (int i = 0; i < axes.Length; i++)
                {
                    long axis = axes[i] < 0 ? axes[i] + rank : axes[i];
                    if (axis < 0 || axis >= rank) return null;
                    (pads[axis], pads[rank + axis]) = (given[i], given[axes.Length + i]);
                }
            }
            if (pads.Length != 2 * rank || pads.Any(v => v < 0) || pads[0] != 0 || pads[1] != 0 || pads[rank] != 0 || pads[rank + 1] != 0)
                return null;
            return [.. pads[2..rank], .. pads[(rank + 2)..]];
        }

        // The padding value is 0: input 2 (opset 11; absent or empty means 0) or the attribute before it.
        private bool PadsWithZero(Node pad)
        {
            if (pad.Float("value", 0f) != 0f) return false;
            if (pad.Inputs.Count < 3 || pad.Inputs[2] == "") return true;
            return Graph.Initializers.TryGetValue(pad.Inputs[2], out var v) && (v.Size == 0 || v.Size == 1 && v.GetDouble(0) == 0);
        }

        // An integer initializer's values; null for anything else.
        private long[]? Integers(string name) =>
            Graph.Initializers.TryGetValue(name, out var t) && t.DataType is DataType.Int64 or DataType.Int32 ? t.ToInt64Values() : null;
    }
}
