// The integer steps of the compiler: a Conv or Gemm layer and a residual Add, each requantized to the QuantizeLinear that
// reads its output (through optional Relus, or a Clip after a layer) or, when none does, left in float; and the attribute readers (weights and
// bias through QdqLayerReader, Reshape/Flatten shapes, MaxPool windows).
using Condense.Graph;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    private sealed partial class Compiler
    {
        // The output quantization of a layer or Add: its output → [Relu or Clip]* → QuantizeLinear(s, z) read by every reader, all
        // with one (s, z); Clip (constant bounds) only when `clip`. Null when the output (or an activation's) is the graph output
        // or has another kind of reader. Quantization is monotone, so Q(clamp(y, a, b)) = clamp(Q(y), Q(a), Q(b)): each
        // activation narrows the codes' clamp [QMin, QMax] (Relu: a = 0, Q(0) = z).
        private (List<Node> Activations, List<Node> Quantizers, float Scale, byte ZeroPoint, byte QMin, byte QMax)? Requantization(string value,
            bool clip = false)
        {
            var activations = new List<Node>();
            string output = g.Outputs[0].Name;
            while (value != output && g.Consumers(value).ToList() is [{ OpType: OpTypes.Relu or OpTypes.Clip } node]
                && (node.OpType == OpTypes.Relu || clip && ClipBounds(node) is not null))
            {
                activations.Add(node);
                value = node.Outputs[0];
            }
            var readers = g.Consumers(value).ToList();
            if (value == output || readers.Count == 0 || readers.Any(r => r.OpType != OpTypes.QuantizeLinear || r.Inputs[0] != value)) return null;
            var parameters = readers.Select(q => QdqLayerReader.ActivationParams(g, q)).Distinct().ToList();
            if (parameters.Count != 1) return null;
            var (scale, zeroPoint) = parameters[0];
            int lo = 0, hi = 255;
            foreach (var node in activations)
            {
                var (min, max) = node.OpType == OpTypes.Relu ? (0f, float.PositiveInfinity) : ClipBounds(node)!.Value;
                int a = QuantizeLinear.Quantize(min, scale, zeroPoint, 0, 255), b = QuantizeLinear.Quantize(max, scale, zeroPoint, 0, 255);
                (lo, hi) = (Math.Clamp(lo, a, b), Math.Clamp(hi, a, b));
            }
            return (activations, readers, scale, zeroPoint, (byte)lo, (byte)hi);
        }

        // The constant (min, max) of a Clip (GraphOps.ClipBounds: its bounds as initializers or attributes), when min ≤ max.
        private (float Min, float Max)? ClipBounds(Node clip)
        {
            Tensor? Bound(int i) => i < clip.Inputs.Count ? g.Initializers.GetValueOrDefault(clip.Inputs[i]) : null;
            return GraphOps.ClipBounds(clip, Bound(1), Bound(2)) is var (min, max) && min <= max ? (min, max) : null;
        }

        // The float output of a layer or Add with no requantization: the value after its Relus (fused), and for a layer
        // (clip) its Clips with constant bounds too, as the interval [Min, Max] the output is clamped to.
        private (string Value, float Min, float Max) FloatOutput(string value, bool clip)
        {
            var (min, max) = (float.NegativeInfinity, float.PositiveInfinity);
            string output = g.Outputs[0].Name;
            while (value != output && g.Consumers(value).ToList() is [{ OpType: OpTypes.Relu or OpTypes.Clip } node]
                && (node.OpType == OpTypes.Relu || clip && ClipBounds(node) is not null))
            {
                _used.Add(node);
                var (a, b) = node.OpType == OpTypes.Relu ? (0f, float.PositiveInfinity) : ClipBounds(node)!.Value;
                // Clamping to [a, b] after [min, max] is one clamp to [clamp(min, a, b), clamp(max, a, b)].
                (min, max, value) = (Math.Clamp(min, a, b), Math.Clamp(max, a, b), node.Outputs[0]);
            }
            return (value, min, max);
        }

        private void Codes(List<Node> quantizers, int slot, int[] shape, float scale, byte zeroPoint, bool channelsLast)
        {
            _slots[slot] = _slots[slot] with { Value = quantizers[0].Outputs[0] };
            foreach (var q in quantizers)
            {
                _used.Add(q);
                _values[q.Outputs[0]] = new Value(slot, shape, false, scale, zeroPoint, false, q.Outputs[0], channelsLast);
            }
        }

        private void Layer(Node layer)
        {
            var x = Get(layer.Inputs[0]);
            if (!x.Dequantized)
                throw Unsupported($"layer '{layer.Name}' is left in float (its input is not quantized); the integer engine needs every layer " +
                    "quantized statically");
            var (weight, shape, bias, conv) = ReadLayer(layer, x.Shape);
            // A depthwise conv (ReadLayer takes no other groups) keeps its raw (M, 1, kH, kW) weight for QDepthwiseConv2d, planar.
            var depthwise = conv is { Groups: > 1 } ? weight.Values : null;
            int n = weight.Shape[0], k = weight.Values.Length / n;
            var packed = !pack || depthwise is not null ? null!
                : new PackedInt8Weights(conv is null ? weight.Values : QConv2d.ChannelsLastWeight(weight.Values, n, weight.Shape[1], weight.Shape[2],
                    weight.Shape[3]), n, k);
            var (kh, kw) = conv is null ? (1, 1) : (weight.Shape[2], weight.Shape[3]);
            if (Requantization(layer.Outputs[0], clip: true) is { } r)
            {
                // A depthwise layer keeps its input's layout where it runs natively in it (no layout step of its own).
                bool channelsLast = _channelsLast && conv is not null && (depthwise is null
                    ? QConv2d.ChannelsLastSuits(weight.Shape[1], n, kh, kw)
                    : x.ChannelsLast && QDepthwiseConv2d.ChannelsLastIsNative(new Conv2dGeometry(1, x.Shape[0], x.Shape[1], x.Shape[2], n, kh, kw, conv)));
                x = InLayout(x, channelsLast);
                var constants = QdqLayerReader.Constants(layer.Name, x.Scale, weight.Scale, bias, r.Scale);
                int slot = NewSlot(false, shape, channelsLast: channelsLast);
                _steps.Add(new LayerStep(layer.Name, x.Codes, x.Slot, slot, x.Shape, conv, kh, kw, packed, x.ZeroPoint, constants.Bias,
                    constants.Multiplier, constants.Shift, r.ZeroPoint, r.QMin, constants.OutputScale, r.Activations.Count > 0, Requantized: true,
                    channelsLast, depthwise, r.QMax));
                _used.UnionWith(r.Activations);
                Codes(r.Quantizers, slot, shape, r.Scale, r.ZeroPoint, channelsLast);
            }
            else
            {
                x = InLayout(x, channelsLast: false);
                var constants = QdqLayerReader.Constants(layer.Name, x.Scale, weight.Scale, bias, null);
                int slot = NewSlot(true, shape);
                var (value, min, max) = FloatOutput(layer.Outputs[0], clip: true);
                _steps.Add(new LayerStep(layer.Name, x.Codes, x.Slot, slot, x.Shape, conv, kh, kw, packed, x.ZeroPoint, constants.Bias,
                    constants.Multiplier, constants.Shift, 0, 0, constants.OutputScale, min == 0f, Requantized: false, Depthwise: depthwise)
                    { FloatMin = min, FloatMax = max });
                _values[value] = new Value(slot, shape, IsFloat: true);
            }
        }

        private void Add(Node add, Value a, Value b)
        {
            if (Requantization(add.Outputs[0]) is { } r)
            {
                b = InLayout(b, a.ChannelsLast);
                var (ma, mb, shift) = QAdd.Multipliers((double)a.Scale / r.Scale, (double)b.Scale / r.Scale);
                int slot = NewSlot(false, a.Shape, channelsLast: a.ChannelsLast);
                _steps.Add(new AddStep(add.Name, a.Slot, b.Slot, slot, _slots[slot].Size, a.ZeroPoint, b.ZeroPoint, a.Scale, b.Scale, ma, mb, shift,
                    r.ZeroPoint, r.QMin, r.Activations.Count > 0, Requantized: true));
                _used.UnionWith(r.Activations);
                Codes(r.Quantizers, slot, a.Shape, r.Scale, r.ZeroPoint, a.ChannelsLast);
            }
            else
            {
                b = InLayout(b, a.ChannelsLast);
                int slot = NewSlot(true, a.Shape);
                var (value, min, _) = FloatOutput(add.Outputs[0], clip: false);
                bool relu = min == 0f;
                _steps.Add(new AddStep(add.Name, a.Slot, b.Slot, slot, _slots[slot].Size, a.ZeroPoint, b.ZeroPoint, a.Scale, b.Scale, 0, 0, 0,
                    0, 0, relu, Requantized: false, a.ChannelsLast ? a.Shape : null));
                _values[value] = new Value(slot, a.Shape, IsFloat: true);
            }
        }

        // Conv(x, DQ(W_q (M, C/groups, kH, kW)), b) with one group or depthwise (groups = C, M a multiple of C), or
        // Gemm(x, DQ(W_q [out, in]), b, transB = 1): the weight, the per-sample output shape, the float bias and the conv options.
        private (QdqLayerReader.QuantizedWeight Weight, int[] OutputShape, float[] Bias, Conv2dOptions? Conv) ReadLayer(Node layer, int[] shape)
        {
            if (layer.OpType == OpTypes.Gemm
                && (layer.Int("transA", 0) != 0 || layer.Int("transB", 0) != 1 || layer.Float("alpha", 1f) != 1f || layer.Float("beta", 1f) != 1f))
                throw Unsupported($"layer '{layer.Name}' is not a Linear Gemm (needs transA = 0, transB = 1, alpha = beta = 1)");
            var weight = QdqLayerReader.ReadWeight(g, layer, rank: layer.OpType == OpTypes.Conv ? 4 : 2, _used);
            int n = weight.Shape[0], k = weight.Values.Length / n;
            var bias = QdqLayerReader.ReadBias(g, layer, n);
            if (layer.OpType != OpTypes.Conv)
            {
                if (shape.Length != 1 || shape[0] != k)
                    throw Unsupported($"layer '{layer.Name}' takes {k} features but receives {Shape.Format(shape)} per sample");
                return (weight, [n], bias, null);
            }
            if (shape.Length != 3) throw Unsupported($"Conv '{layer.Name}' reads {Shape.Format(shape)} per sample; it needs (C, H, W) images");
            var conv = GraphOps.ConvOptions(layer, [1, .. shape], weight.Shape);
            if (conv.Groups != 1 && (conv.Groups != shape[0] || n % shape[0] != 0))
                throw Unsupported($"Conv '{layer.Name}' has {conv.Groups} groups on {shape[0]} channels; the int8 convolution takes one group, " +
                    "or one per input channel (depthwise)");
            return (weight, Conv2dGeometry.Of([1, .. shape], weight.Shape, conv).OutputShape[1..], bias, conv);
        }
    }

    // The sample shape after a Reshape (constant shape; 0 copies, −1 infers) or a Flatten (axis 1).
    private static int[] Reshaped(ModelGraph g, Node node, int[] shape)
    {
        int size = shape.Aggregate(1, (a, b) => a * b);
        if (node.OpType == OpTypes.Identity || node.OpType == OpTypes.Dropout) return shape;
        if (node.OpType == OpTypes.Flatten)
        {
            if (node.Int("axis", 1) != 1) throw Unsupported($"'{node.Name}' flattens at axis {node.Int("axis", 1)}; only axis 1 keeps the batch");
            return [size];
        }
        if (node.Inputs.Count < 2 || !g.Initializers.TryGetValue(node.Inputs[1], out var target))
            throw Unsupported($"'{node.Name}' (Reshape) has no constant shape");
        var dims = target.Data.Select(d => (int)d).ToArray();
        if (dims.Length < 2 || !(dims[0] is -1 or 0)) throw Unsupported($"'{node.Name}' (Reshape) to {Shape.Format(dims)} does not keep the batch first");
        var sample = dims[1..];
        for (int i = 0; i < sample.Length; i++)   // 0 copies the input's dimension at the same place
            if (sample[i] == 0) sample[i] = i < shape.Length ? shape[i] : throw Unsupported($"'{node.Name}' (Reshape) copies a dimension the input lacks");
        int known = sample.Where(d => d > 0).Aggregate(1, (a, b) => a * b);
        for (int i = 0; i < sample.Length; i++) if (sample[i] == -1) sample[i] = size / Math.Max(1, known);
        if (sample.Aggregate(1, (a, b) => a * b) != size)
            throw Unsupported($"'{node.Name}' (Reshape) to {Shape.Format(dims)} does not fit {Shape.Format(shape)} per sample");
        return sample;
    }

    private static PoolParameters Window(Node node)
    {
        if (node.Outputs.Count > 1) throw Unsupported($"'{node.Name}' ({node.OpType}) also outputs indices");
        if (node.Attributes.TryGetValue("auto_pad", out var a) && a.StringValue is { Length: > 0 } pad && pad != "NOTSET")
            throw Unsupported($"'{node.Name}' ({node.OpType}) uses auto_pad {pad}");
        long[] At(string name, int count, long fallback) =>
            node.Attributes.TryGetValue(name, out var v) && v.IntsValue is { } ints ? ints : Enumerable.Repeat(fallback, count).ToArray();
        var kernel = At("kernel_shape", 2, 1);
        if (kernel.Length != 2) throw Unsupported($"'{node.Name}' ({node.OpType}) is not 2-D");
        var strides = At("strides", 2, 1);
        var pads = At("pads", 4, 0);
        var dilations = At("dilations", 2, 1);
        return new PoolWindow((int)kernel[0], (int)kernel[1], (int)strides[0], (int)strides[1], (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3],
            (int)dilations[0], (int)dilations[1], node.Int("ceil_mode", 0) != 0);
    }
}
