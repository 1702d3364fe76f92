// Channels on the last axis: a Linear (MatMul by a weight) applied to a [N, H, W, C] or [N, T, C] tensor writes its
// neurons there, as ConvNeXt's block MLP (Liu et al. 2022: pointwise convs written as Linears between two permutes) and
// a vision transformer's MLP do. Those neurons pass the ops that act element by element — GELU as exported (x / √2, erf,
// + 1 as a gate, x · gate, · 0.5), ReLU and its kin — to the Linear that reads them, whose input rows are cut with them.
// Transposes and reductions that keep channels whole are followed (ChannelGroups.Transpose.cs); anything else that meets
// them (a pool, a norm, a reshape, a conv) assumes channels on axis 1: the group is blocked there.
using Condense.Graph;

namespace Condense.Pruning;

internal static partial class ChannelGroups
{
    private sealed partial class Walk
    {
        /// <summary>Values whose tracked channels lie on the last axis of a tensor of rank above 2.</summary>
        public HashSet<string> LastAxis { get; } = [];

        // Marks the output of a node that passed channels on as channels-last when an input was.
        private void Carry(Node node)
        {
            if (node.Inputs.Any(LastAxis.Contains)) LastAxis.Add(node.Outputs[0]);
        }

        // True when the node was handled here: it reads channels-last values and is not a Linear, an Add, or a product
        // of a gate, which the general rules handle in either layout.
        private bool VisitChannelsLast(Node node, List<string> tracked)
        {
            if (!tracked.Any(LastAxis.Contains) || node.OpType is OpTypes.MatMul or OpTypes.Gemm) return false;
            bool single = tracked.Count == 1 && Channels[tracked[0]].Block == 1;
            if (single && PerChannelConstant(node, tracked[0]) is { } constant)
            {
                // A MatMul's bias (x + b) or a layer scale (x · γ), one entry per channel: cut with the channels.
                Group(Channels[tracked[0]].Group).Slices.Add(new ChannelSlice(constant, 0, 1));
                Channels[node.Outputs[0]] = Channels[tracked[0]];
                LastAxis.Add(node.Outputs[0]);
                return true;
            }
            if (node.OpType == OpTypes.Add) return false;
            single &= tracked[0] == node.Inputs[0];
            if (single && ReducesAroundLastAxis(node, tracked[0])) return true;
            if (single && (ZeroPreserving.Contains(node.OpType) || ScalesByConstant(node)))
            {
                Pass(node);
                return true;
            }
            if (single && node.OpType is OpTypes.Sigmoid or OpTypes.HardSigmoid)
            {
                Pass(node);
                Gates[node.Outputs[0]] = node;
                return true;
            }
            foreach (var value in tracked)
                Block(Channels[value].Group, $"its channels, on the last axis after {graph.Producer(value)?.Name ?? value}, go through "
                    + $"{node.OpType} ({node.Name}), which structured pruning does not follow there");
            return true;
        }

        // The other operand of x + b or x · γ when it is a vector constant with one entry per channel of x.
        private string? PerChannelConstant(Node node, string x)
        {
            if (node.OpType is not (OpTypes.Add or OpTypes.Mul) || node.Inputs.Count != 2) return null;
            string other = node.Inputs[0] == x ? node.Inputs[1] : node.Inputs[0];
            return other != x && graph.Initializers.TryGetValue(other, out var c) && c.Rank == 1 && c.Size == Group(Channels[x].Group).Channels
                && c.Size > 1 ? other : null;
        }

        // f(gate) element by element, with scalar constants beside it (a clip, a scaling, an offset, an activation), is still a
        // gate: not zero where a channel is cut, joined to the channels by a product with them. Hardswish and hardsigmoid as
        // exported before opset 14 need it: x · relu6(x + 3) / 6.
        private bool GateFunction(Node node)
        {
            if (node.Inputs.Count == 0 || !Gates.ContainsKey(node.Inputs[0]) || !Elementwise.Contains(node.OpType)) return false;
            if (node.Inputs.Skip(1).Any(i => i.Length > 0 && !(graph.Initializers.TryGetValue(i, out var c) && c.Size == 1))) return false;
            Pass(node);
            Gates[node.Outputs[0]] = node;
            return true;
        }

        // x · c or x / c by a scalar constant c (≠ 0 for a division): zero stays zero in any layout.
        private bool ScalesByConstant(Node node) =>
            node.OpType is OpTypes.Mul or OpTypes.Div && node.Inputs.Count == 2 && graph.Initializers.TryGetValue(node.Inputs[1], out var c)
            && c.Size == 1 && (node.OpType == OpTypes.Mul || c.GetDouble(0) != 0);

        // x + c by a scalar constant (GELU's 1 + erf(x / √2)): not zero where a channel is cut, so it is a gate that only a
        // product with the channels may read, as a sigmoid is.
        private bool ConstantOffset(Node node) =>
            node.OpType == OpTypes.Add && node.Inputs.Count == 2 && graph.Initializers.TryGetValue(node.Inputs[1], out var c) && c.Size == 1;
    }
}
