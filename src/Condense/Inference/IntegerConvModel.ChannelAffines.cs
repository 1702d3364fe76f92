// A BatchNormalization of codes that a QuantizeLinear reads (through a Relu or constant Clips), in the integer engine:
// each channel's codes mapped by the float simulation's own arithmetic — DequantizeLinear (q − z)·s, the batch norm's
// affine x·a + b (a = γ/√(σ² + ε), b = β − μ·a, from Tensor.NormAffine as Tensor.BatchNorm's), the clamp of the activations,
// QuantizeLinear — on 16 channels at a time (Kernels/Int8Conv/ChannelAffineCodes), so the codes are the simulation's
// exactly. DenseNet's pre-activation layers (the Concat of every earlier feature → BN → ReLU → 1×1 conv) have one before
// each layer and transition: the Concat's inputs, codes of several (s, z), are mapped side by side into the output's
// pixels, as a Concat's requantization is (IntegerConvModel.Concat.cs), without the Concat's float output. Any other batch
// norm runs as the graph's float op.
using Condense.Graph;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    // Each pixel of the output holds, for each input i, its Maps[i].A.Length channels mapped by Maps[i], side by side.
    internal sealed record ChannelAffineStep(string Name, int[] Inputs, int Output, int Pixels, ChannelAffine[] Maps, float Scale, byte ZeroPoint,
        byte Lo, byte Hi) : Step(Output);

    private static void ChannelAffines(ChannelAffineStep step, Buffers b, int n)
    {
        int width = step.Maps.Sum(m => m.A.Length), pixels = n * step.Pixels;
        var output = b.Codes[step.Output];
        ParallelRanges.For(pixels, (long)pixels * width, 1 << 15, (first, last) =>
        {
            for (int i = 0, offset = 0; i < step.Inputs.Length; offset += step.Maps[i].A.Length, i++)
            {
                int block = step.Maps[i].A.Length;
                var input = b.Codes[step.Inputs[i]].AsSpan(first * block, (last - first) * block);
                ChannelAffineCodes.Map(input, output.AsSpan(first * width + offset), last - first, width, step.Maps[i], step.Scale, step.ZeroPoint,
                    step.Lo, step.Hi);
            }
        });
    }

    private sealed partial class Compiler
    {
        // The inputs' codes through a batch norm and its activations into the codes of the QuantizeLinear after them, when
        // `norm` (a BatchNormalization in inference form with constant parameters) reads `inputs` joined on the channel axis
        // (one value, or a Concat's) and only such quantizers read its result; false (nothing done) otherwise.
        private bool NormOfCodes(Node norm, Value[] inputs)
        {
            if (norm.OpType != OpTypes.BatchNormalization || norm.Int("training_mode", 0) != 0 || norm.Outputs.Count != 1
                || inputs.Any(v => !v.Dequantized || v.Shape.Length != 3)) return false;
            var parameters = norm.Inputs.Skip(1).Select(name => g.Initializers.GetValueOrDefault(name)).ToArray();
            int channels = inputs.Sum(v => v.Shape[0]);
            if (parameters.Length != 4 || parameters.Any(p => p is null || p.Size != channels)) return false;
            if (inputs.Any(v => v.Shape[1] != inputs[0].Shape[1] || v.Shape[2] != inputs[0].Shape[2])) return false;
            if (Requantization(norm.Outputs[0], clip: true) is not { } r) return false;
            var (_, a, b) = Tensor.NormAffine(parameters[2]!.Data, parameters[3]!.Data, parameters[0], parameters[1], norm.Float("epsilon", 1e-5f));
            var maps = new ChannelAffine[inputs.Length];
            for (int i = 0, first = 0; i < inputs.Length; first += inputs[i].Shape[0], i++)
            {
                var own = first..(first + inputs[i].Shape[0]);
                maps[i] = new ChannelAffine(inputs[i].Scale, inputs[i].ZeroPoint, a[own], b[own]);
            }
            inputs = [.. inputs.Select(v => InLayout(v, channelsLast: true))];
            int[] shape = [channels, inputs[0].Shape[1], inputs[0].Shape[2]];
            int slot = NewSlot(false, shape, channelsLast: true);
            _steps.Add(new ChannelAffineStep(norm.Name, [.. inputs.Select(v => v.Slot)], slot, shape[1] * shape[2], maps, r.Scale, r.ZeroPoint,
                r.QMin, r.QMax));
            _used.Add(norm);
            _used.UnionWith(r.Activations);
            Codes(r.Quantizers, slot, shape, r.Scale, r.ZeroPoint, channelsLast: true);
            return true;
        }

        // A Concat on the channel axis read by one batch norm alone: the batch norm of its inputs' codes when it takes them.
        private bool ConcatIntoNorm(Node concat, Value[] inputs)
        {
            int axis = (int)concat.Int("axis", 0);
            if (axis is not (1 or -3) || g.Outputs[0].Name == concat.Outputs[0] || g.Consumers(concat.Outputs[0]).ToList() is not [var norm]
                || norm.Inputs[0] != concat.Outputs[0]) return false;
            return NormOfCodes(norm, inputs);
        }
    }
}
