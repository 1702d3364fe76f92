// An AveragePool of codes that a QuantizeLinear reads (through a Relu or constant Clips), in the integer engine: the codes
// pooled and requantized at once (Kernels/Int8Conv/QAveragePool), channels-last. Inception-v3's pooling branches read
// their block's Concat (quantized once for the 1×1 layers and the pool, QuantizedPooling) through a zero Pad that the
// engine folds into the pool first (PadFusion: count_include_pad over the same pads). Any other AveragePool runs as the
// graph's float op (a whole-image one as the engine's mean).
using Condense.Graph;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Pool;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    internal sealed record AveragePoolStep(string Name, int Input, int Output, int[] InputShape, PoolParameters Window, bool CountIncludePad,
        PoolRequantization Requantization) : Step(Output);

    private static void AveragePool(AveragePoolStep step, Buffers b, int n)
    {
        var (c, h, w) = (step.InputShape[0], step.InputShape[1], step.InputShape[2]);
        QAveragePool.ChannelsLast(b.Codes[step.Input].AsSpan(0, n * c * h * w), b.Codes[step.Output], n, h, w, c, step.Window,
            step.CountIncludePad, step.Requantization);
    }

    private sealed partial class Compiler
    {
        // The pool of codes `x` requantized to the codes of the QuantizeLinear after it; false (nothing done) when it does not fit.
        private bool AverageOfCodes(Node pool, Value x)
        {
            if (pool.Attributes.TryGetValue("auto_pad", out var a) && a.StringValue is { Length: > 0 } autoPad && autoPad != "NOTSET") return false;
            if (pool.Attributes.TryGetValue("dilations", out var d) && d.IntsValue is { } dilations && dilations.Any(v => v != 1)) return false;
            if (pool.Attributes.TryGetValue("kernel_shape", out var k) && k.IntsValue is not { Length: 2 }) return false;
            if (Requantization(pool.Outputs[0], clip: true) is not { } r) return false;
            var window = Window(pool);
            var (oh, ow) = window.OutputSize(x.Shape[1], x.Shape[2]);
            x = InLayout(x, channelsLast: true);
            int[] shape = [x.Shape[0], oh, ow];
            int slot = NewSlot(false, shape, channelsLast: true);
            _steps.Add(new AveragePoolStep(pool.Name, x.Slot, slot, x.Shape, window, pool.Int("count_include_pad", 0) != 0,
                new PoolRequantization(x.Scale, x.ZeroPoint, r.Scale, r.ZeroPoint, r.QMin, r.QMax)));
            _used.UnionWith(r.Activations);
            Codes(r.Quantizers, slot, shape, r.Scale, r.ZeroPoint, channelsLast: true);
            return true;
        }
    }
}
