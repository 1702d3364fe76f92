// Codes that change scale in the integer engine, through Kernels/Int8Conv/CodeTable (a 256-entry map per input, exact to the
// float simulation's DequantizeLinear → QuantizeLinear):
//   Concat of codes whose output only QuantizeLinears read (through Relus or constant Clips), all with one (s, z) — as in
//     SqueezeNet's Fire modules and GoogLeNet's Inception blocks, ONNX Runtime's QLinearConcat: each input's blocks are
//     mapped to (s, z) and written side by side; on the channel axis of channels-last codes a block is one pixel's channels;
//   QuantizeLinear of codes to another (s, z) (a MaxPool's output read by a layer quantized at its own scale): one input.
// A Concat read by a batch norm alone maps its inputs' codes through that norm (IntegerConvModel.ChannelAffines.cs); one
// whose output is read otherwise (a float op, the graph output) runs in float, its inputs dequantized.
using Condense.Graph;
using Condense.Kernels.Int8Conv;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    // Row r (of Rows per sample) of input i is Blocks[i] codes at r·Blocks[i], mapped by Tables[i] (null: copied) to the output
    // row r at the sum of the blocks before it; an output row holds Σ Blocks.
    internal sealed record RequantizeStep(string Name, int[] Inputs, int Output, int Rows, int[] Blocks, byte[]?[] Tables) : Step(Output);

    private static void Requantize(RequantizeStep step, Buffers b, int n)
    {
        int width = step.Blocks.Sum(), rows = n * step.Rows;
        var output = b.Codes[step.Output].AsSpan(0, rows * width);
        for (int i = 0, offset = 0; i < step.Inputs.Length; offset += step.Blocks[i], i++)
        {
            int block = step.Blocks[i];
            var input = b.Codes[step.Inputs[i]].AsSpan(0, rows * block);
            if (block == width) CodeTable.Map(step.Tables[i], input, output);
            else
                for (int r = 0; r < rows; r++)
                    CodeTable.Map(step.Tables[i], input.Slice(r * block, block), output.Slice(r * width + offset, block));
        }
    }

    private sealed partial class Compiler
    {
        private void Concat(Node node)
        {
            var inputs = node.Inputs.Select(Get).ToArray();
            int rank = inputs[0].Shape.Length;
            int axis = (int)node.Int("axis", 0);
            axis = axis < 0 ? axis + rank + 1 : axis;
            if (axis == 0) throw Unsupported($"'{node.Name}' (Concat) joins along the batch axis");
            CondenseException Mismatch() =>
                Unsupported($"'{node.Name}' (Concat) joins {string.Join(", ", inputs.Select(v => Shape.Format(v.Shape)))} along axis {axis}");
            if (axis > rank || inputs.Any(v => v.Shape.Length != rank)) throw Mismatch();
            if (inputs.Any(v => !v.Dequantized) || Requantization(node.Outputs[0], clip: true) is not { } r)
            {
                if (!ConcatIntoNorm(node, inputs)) FloatNode(node);
                return;
            }
            int at = axis - 1;
            bool channelsLast = at == 0 && inputs.All(v => v.ChannelsLast);
            inputs = [.. inputs.Select(v => InLayout(v, channelsLast))];
            int[] shape = [.. inputs[0].Shape];
            shape[at] = inputs.Sum(v => v.Shape[at]);
            for (int d = 0; d < rank; d++)
                if (d != at && inputs.Any(v => v.Shape[d] != shape[d])) throw Mismatch();
            static int Product(IEnumerable<int> dims) => dims.Aggregate(1, (a, b) => a * b);
            // Channels-last (H, W, C) codes: a row is a pixel and its block the input's channels; else a row is an index of
            // the axes before the joined one and its block the rest of the input.
            int rows = channelsLast ? shape[1] * shape[2] : Product(shape[..at]);
            int[] blocks = [.. inputs.Select(v => channelsLast ? v.Shape[0] : Product(v.Shape[at..]))];
            int slot = NewSlot(false, shape, channelsLast: channelsLast);
            _steps.Add(new RequantizeStep(node.Name, [.. inputs.Select(v => v.Slot)], slot, rows, blocks,
                [.. inputs.Select(v => CodeTable.Requantization(v.Scale, v.ZeroPoint, r.Scale, r.ZeroPoint, r.QMin, r.QMax))]));
            _used.UnionWith(r.Activations);
            Codes(r.Quantizers, slot, shape, r.Scale, r.ZeroPoint, channelsLast);
        }

        // QuantizeLinear(s', z') of the dequantized codes of (s, z): the codes mapped by table.
        private void RequantizeCodes(Node q, Value x, float scale, byte zeroPoint)
        {
            int slot = NewSlot(false, x.Shape, q.Outputs[0], x.ChannelsLast);
            _steps.Add(new RequantizeStep(q.Name, [x.Slot], slot, 1, [_slots[slot].Size],
                [CodeTable.Requantization(x.Scale, x.ZeroPoint, scale, zeroPoint)]));
            _values[q.Outputs[0]] = new Value(slot, x.Shape, false, scale, zeroPoint, false, q.Outputs[0], x.ChannelsLast);
        }
    }
}
