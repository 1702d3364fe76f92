// Compiling a static QDQ graph with convolutions into the integer engine. The nodes are read once, in the graph's
// (topological) order, and every value gets a place: a float buffer, or uint8 codes of one (s, z) — a QuantizeLinear
// output, or the DequantizeLinear of one (the same codes, read as floats). Per node:
//   QuantizeLinear of floats → a quantize step; of a dequantized value with the same (s, z) → the same codes (identity), with
//     another (s, z) → the codes mapped by table (IntegerConvModel.Concat.cs); Concat of codes → the same, input by input;
//   DequantizeLinear → the same codes; Flatten/Reshape/Identity/Dropout → the same buffer under a new shape;
//   Conv/Gemm(DQ(codes), DQ(W_q), b) and Add(DQ(codes), DQ(codes)) → an integer step: when [Relu →] QuantizeLinear(s_y, z_y)
//     (every reader of the output the same (s_y, z_y)) follows, requantized to those codes with ReLU as qmin = z_y (after a
//     layer also a constant Clip, as the clamp [Q(min), Q(max)])
//     (constants as IntegerModel: bias32[o] = round(b[o]/(s_x·s_w[o])), M[o] = s_x·s_w[o]/s_y as (multiplier, shift)),
//     else a float output (acc·s_x·s_w[o], ReLU fused), e.g. the last layer; a depthwise Conv (groups = C) runs planar
//     (Kernels/Int8Conv/QDepthwiseConv2d);
//   MaxPool of codes → max pooling on the codes; AveragePool of codes that [Relu →] QuantizeLinear reads → pooled and
//     requantized on codes, a zero Pad before it folded in first (IntegerConvModel.Pooling.cs); BatchNormalization of codes
//     (or of a Concat of codes) that [Relu →] QuantizeLinear reads → each channel's codes mapped by the norm
//     (IntegerConvModel.ChannelAffines.cs); Relu, AveragePool,
//     GlobalAveragePool, ReduceMean, MaxPool, BatchNormalization or Add of floats → the graph's own float op (codes read by
//     one are dequantized first).
// A conv weight is reordered to the channels-last patch order of Kernels/Int8Conv/QConv2d. Anything else (grouped
// convolutions other than depthwise, dynamic quantization, float layers, other ops) is refused in one line.
using Condense.Graph;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    /// <summary>True when <paramref name="qdq"/> compiles (see <see cref="Compile"/>); otherwise false with the one-line reason.</summary>
    public static bool CanCompile(ModelGraph qdq, out string reason) =>
        QdqLayerReader.CanCompile(qdq, g => new Compiler(PadFusion.Fuse(g) ?? g, pack: false).Run(), out reason);

    /// <summary>
    /// Compiles a static-quantized QDQ graph of Conv/Gemm layers, residual Adds, pooling and reshapes (docs/quantized-graph.md)
    /// into an integer model; throws <see cref="CondenseException"/> naming what is not supported.
    /// </summary>
    public static IntegerConvModel Compile(ModelGraph qdq)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        return new Compiler(PadFusion.Fuse(qdq) ?? qdq, pack: true).Run();
    }

    // Where a graph value lives: a float buffer, or codes of (Scale, ZeroPoint); Dequantized when the value is the float
    // DequantizeLinear of the codes rather than the QuantizeLinear output (named Codes).
    // ChannelsLast: codes held (H, W, C) per sample.
    private sealed record Value(int Slot, int[] Shape, bool IsFloat, float Scale = 0f, byte ZeroPoint = 0, bool Dequantized = false, string Codes = "",
        bool ChannelsLast = false);

    private sealed partial class Compiler(ModelGraph g, bool pack)
    {
        private readonly HashSet<Node> _used = [];
        private readonly List<Slot> _slots = [];
        private readonly List<Step> _steps = [];
        private readonly Dictionary<string, Value> _values = [];
        private readonly Dictionary<int, int> _dequantized = [];   // codes slot → its float copy
        private readonly Dictionary<(int Slot, bool ChannelsLast), int> _relaid = [];   // codes slot → its copy in the other layout
        // Requantized convolutions keep their codes channels-last where the kernels are native to it (QConv2dNhwc).
        private readonly bool _channelsLast = QConv2d.ChannelsLastIsNative;

        public IntegerConvModel Run()
        {
            QdqLayerReader.CheckOneInputOneOutput(g);
            var input = g.Inputs[0];
            int[] sampleShape = input.Shape[1..];
            if (input.Shape.Length == 0 || sampleShape.Any(d => d < 0))
                throw Unsupported($"the input '{input.Name}' has a dynamic sample shape {Shape.Format(input.Shape)}");
            _values[input.Name] = new Value(NewSlot(true, sampleShape), sampleShape, IsFloat: true);
            foreach (var node in g.Nodes)
            {
                if (_used.Contains(node) || IsWeightDequantize(node)) continue;
                Visit(node);
                _used.Add(node);
            }
            if (!_steps.OfType<LayerStep>().Any(l => l.Conv is not null))
                throw Unsupported("the graph has no Conv layer (Linear chains compile to IntegerModel)");
            QdqLayerReader.CheckAllUsed(g, _used, "integer Conv/Gemm/Add/pooling");
            string outputName = g.Outputs[0].Name;
            if (g.Consumers(outputName).Any()) throw Unsupported($"the graph output '{outputName}' is also read by other nodes");
            var output = Get(outputName);
            if (!output.IsFloat && !output.Dequantized) throw Unsupported($"the graph output '{outputName}' is uint8 codes; a float output is needed");
            return new IntegerConvModel([.. _steps], [.. _slots], sampleShape, output.Shape, Float(output));
        }

        private bool IsWeightDequantize(Node node) => node.OpType == OpTypes.DequantizeLinear && g.Initializers.ContainsKey(node.Inputs[0]);

        private void Visit(Node node)
        {
            switch (node.OpType)
            {
                case OpTypes.QuantizeLinear: Quantize(node); break;
                case OpTypes.DequantizeLinear: Dequantize(node); break;
                case OpTypes.Conv or OpTypes.Gemm: Layer(node); break;
                case OpTypes.Concat: Concat(node); break;
                case OpTypes.Add when node.Inputs.Count == 2 && Get(node.Inputs[0]) is { Dequantized: true } a && Get(node.Inputs[1]) is { Dequantized: true } b
                    && a.Shape.SequenceEqual(b.Shape):
                    Add(node, a, b);
                    break;
                case OpTypes.MaxPool when Get(node.Inputs[0]) is { Dequantized: true, Shape.Length: 3 } x:
                    var window = Window(node);
                    var (oh, ow) = window.OutputSize(x.Shape[1], x.Shape[2]);
                    int[] shape = [x.Shape[0], oh, ow];
                    int slot = NewSlot(false, shape, channelsLast: x.ChannelsLast);
                    _steps.Add(new MaxPoolStep(node.Name, x.Slot, slot, x.Shape, window, x.ChannelsLast));
                    _values[node.Outputs[0]] = x with { Slot = slot, Shape = shape };
                    break;
                case OpTypes.BatchNormalization:
                    if (!(Get(node.Inputs[0]) is { Dequantized: true } codes && NormOfCodes(node, [codes]))) FloatNode(node);
                    break;
                case OpTypes.AveragePool:
                    if (!(Get(node.Inputs[0]) is { Dequantized: true, Shape.Length: 3 } pooled && AverageOfCodes(node, pooled))) FloatNode(node);
                    break;
                case OpTypes.Add or OpTypes.MaxPool or OpTypes.Relu or OpTypes.GlobalAveragePool or OpTypes.Pad or OpTypes.ReduceMean:
                    FloatNode(node);
                    break;
                case OpTypes.Clip when ClipBounds(node) is var (min, max):
                    // In float (a Clip that is not folded into a layer's clamp: before a float pooling, MobileNet's last ReLU6),
                    // its bounds as opset 6's attributes so that the step reads one value.
                    FloatNode(new Node(node.Name, OpTypes.Clip, [node.Inputs[0]], node.Outputs, new Dictionary<string, AttributeValue>
                        { ["min"] = AttributeValue.Float(min), ["max"] = AttributeValue.Float(max) }));
                    break;
                case OpTypes.Flatten or OpTypes.Reshape or OpTypes.Identity or OpTypes.Dropout:
                    if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0) throw Unsupported($"'{node.Name}' ({node.OpType}) has a second output");
                    var value = Get(node.Inputs[0]);
                    if (node.OpType is OpTypes.Flatten or OpTypes.Reshape) value = InLayout(value, channelsLast: false);
                    _values[node.Outputs[0]] = value with { Shape = Reshaped(g, node, value.Shape) };
                    break;
                case OpTypes.DynamicQuantizeLinear:
                    throw Unsupported($"node '{node.Name}' quantizes dynamically; the integer engine runs static quantization only (fixed input scales)");
                default:
                    throw Unsupported($"node '{node.Name}' ({node.OpType}) is not in the integer engine "
                        + "(Q/DQ, Conv, Gemm, Add, Concat, Relu, Clip, Pad, pooling, ReduceMean, reshapes)");
            }
        }

        private void Quantize(Node q)
        {
            var x = Get(q.Inputs[0]);
            var (scale, zeroPoint) = QdqLayerReader.ActivationParams(g, q);
            if (x.IsFloat)
            {
                int slot = NewSlot(false, x.Shape, q.Outputs[0]);
                _steps.Add(new QuantizeStep(x.Slot, slot, scale, zeroPoint));
                _values[q.Outputs[0]] = new Value(slot, x.Shape, false, scale, zeroPoint, false, q.Outputs[0]);
            }
            else if (x.Dequantized && x.Scale == scale && x.ZeroPoint == zeroPoint)
            {
                _values[q.Outputs[0]] = x with { Dequantized = false, Codes = q.Outputs[0] };
                if (_slots[x.Slot].Value is null) _slots[x.Slot] = _slots[x.Slot] with { Value = q.Outputs[0] };
            }
            else if (x.Dequantized) RequantizeCodes(q, x, scale, zeroPoint);
            else throw Unsupported($"'{q.Name}' quantizes '{q.Inputs[0]}', uint8 codes that no DequantizeLinear has made floats");
        }

        private void Dequantize(Node dq)
        {
            var x = Get(dq.Inputs[0]);
            var (scale, zeroPoint) = QdqLayerReader.ActivationParams(g, dq);
            if (x.IsFloat || x.Dequantized)
                throw Unsupported($"'{dq.Name}' dequantizes '{dq.Inputs[0]}', which is not the output of a QuantizeLinear");
            if (x.Scale != scale || x.ZeroPoint != zeroPoint)
                throw Unsupported($"'{dq.Name}' dequantizes with (scale {scale}, zero point {zeroPoint}), " +
                    $"not the (scale {x.Scale}, zero point {x.ZeroPoint}) of its codes");
            _values[dq.Outputs[0]] = x with { Dequantized = true };
        }

        // A float op of the graph on float buffers (codes read by it are dequantized once; constant inputs, as a Pad's pads, passed
        // as they are); its per-sample output shape comes from running it on one zero sample.
        private void FloatNode(Node node)
        {
            if (node.Outputs.Count != 1) throw Unsupported($"'{node.Name}' ({node.OpType}) has {node.Outputs.Count} outputs");
            var inputs = new List<Value>();
            var constants = new Tensor?[node.Inputs.Count];
            var fed = new int[node.Inputs.Count];
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                string name = node.Inputs[i];
                fed[i] = name.Length == 0 || g.Initializers.TryGetValue(name, out constants[i]) ? -1 : inputs.Count;
                if (fed[i] >= 0) inputs.Add(Get(name));
            }
            if (inputs.Count == 0) throw Unsupported($"'{node.Name}' ({node.OpType}) reads only constants");
            var probe = constants.Select((c, i) => fed[i] >= 0 ? Tensor.Zeros([1, .. inputs[fed[i]].Shape]) : c).ToArray();
            var result = GraphOps.Run(node, probe, InferenceContext)[0];
            if (result.Shape is not [1, ..]) throw Unsupported($"'{node.Name}' ({node.OpType}) does not keep the batch axis first");
            int[] shape = result.Shape[1..];
            int slot = NewSlot(true, shape);
            if (inputs is [{ Shape: [int c, int h, int w] } x] && (shape.SequenceEqual([c, 1, 1]) || shape.SequenceEqual([c]))
                && (PoolsWholeImage(node, h, w) || MeansHeightAndWidth(node, constants)))
                _steps.Add(new MeanStep(Float(x), slot, c, h * w));
            else
                _steps.Add(new FloatNodeStep(node, [.. inputs.Select(Float)], slot, [.. inputs.Select(v => v.Shape)], constants, fed));
            _values[node.Outputs[0]] = new Value(slot, shape, IsFloat: true);
        }

        // A GlobalAveragePool, or an AveragePool of kernel (H, W) with no padding or dilation: one window, the whole image, divisor H·W.
        private static bool PoolsWholeImage(Node node, int h, int w)
        {
            bool Is(string name, Func<long[], bool> test) => !node.Attributes.TryGetValue(name, out var a) || a.IntsValue is { } v && test(v);
            if (node.OpType == OpTypes.GlobalAveragePool) return true;
            return node.OpType == OpTypes.AveragePool && node.Attributes.TryGetValue("kernel_shape", out var k) && k.IntsValue is [var kh, var kw]
                && kh == h && kw == w && Is("pads", v => v.All(p => p == 0)) && Is("dilations", v => v.All(d => d == 1))
                && (!node.Attributes.TryGetValue("auto_pad", out var a) || a.StringValue is null or "" or "NOTSET");
        }

        // A ReduceMean over axes 2 and 3 of (N, C, H, W), in either order or counted from the end: torchvision's x.mean([2, 3])
        // (MNASNet's head), the same means as a GlobalAveragePool (its output (C) without keepdims).
        private static bool MeansHeightAndWidth(Node node, Tensor?[] constants)
        {
            return node.OpType == OpTypes.ReduceMean && GraphOps.Axes(node, constants, 1) is { Length: 2 } axes
                && axes.Select(v => v < 0 ? v + 4 : v).Order().SequenceEqual([2, 3]);
        }

        // The float buffer of a value: its own, or a dequantized copy of its codes.
        private int Float(Value value)
        {
            if (value.IsFloat) return value.Slot;
            value = InLayout(value, channelsLast: false);
            if (!value.Dequantized) throw Unsupported($"the uint8 codes '{value.Codes}' are read as floats without a DequantizeLinear");
            if (_dequantized.TryGetValue(value.Slot, out int slot)) return slot;
            slot = NewSlot(true, value.Shape);
            _steps.Add(new DequantizeStep(value.Slot, slot, value.Scale, value.ZeroPoint, _slots[slot].Size));
            return _dequantized[value.Slot] = slot;
        }

        private Value Get(string name) => _values.TryGetValue(name, out var value) ? value
            : throw Unsupported(g.Initializers.ContainsKey(name)
                ? $"the constant '{name}' is read as an activation; the integer engine takes constants only as layer weights and biases"
                : $"value '{name}' is not computed by the integer engine");

        private int NewSlot(bool isFloat, int[] shape, string? value = null, bool channelsLast = false)
        {
            _slots.Add(new Slot(isFloat, shape.Aggregate(1, (a, b) => a * b), value, channelsLast ? shape : null));
            return _slots.Count - 1;
        }

        // Codes in the asked layout: the value itself, or a (kept) copy made by a layout step; floats have one layout.
        private Value InLayout(Value value, bool channelsLast)
        {
            if (value.IsFloat || value.ChannelsLast == channelsLast) return value;
            if (value.Shape is not [int c, int h, int w])
                throw Unsupported($"codes of shape {Shape.Format(value.Shape)} cannot change layout; (C, H, W) images can");
            if (!_relaid.TryGetValue((value.Slot, channelsLast), out int slot))
            {
                slot = _relaid[(value.Slot, channelsLast)] = NewSlot(false, value.Shape, channelsLast: channelsLast);
                _steps.Add(new LayoutStep(value.Slot, slot, c, h * w, channelsLast));
            }
            return value with { Slot = slot, ChannelsLast = channelsLast };
        }
    }

    private static CondenseException Unsupported(string what) => QdqLayerReader.Unsupported(what);
}
