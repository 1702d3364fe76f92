// Compiling a static QDQ graph with convolutions into the integer engine: recognise
//   input → [Reshape/Flatten] → Q → DQ → (Conv | Gemm)(DQ(W_q), b) → [Relu | MaxPool | Flatten | Q → DQ]* → Q → DQ → …
//   → last layer → [Flatten] → output
// and precompute per layer, as IntegerModel does for Gemm (x_q uint8 (s_x, z_x), w_q int8 per output channel):
//   bias32[o] = round(b[o] / (s_x·s_w[o])),  M[o] = s_x·s_w[o] / s_y as (multiplier, shift),  qmin = z_y with a ReLU.
// A ReLU anywhere among the ops between two layers is fused (it commutes with max pooling and reshaping);
// a conv weight is reordered to the channels-last patch order of Kernels/Int8Conv/QConv2d. Anything else (residual
// Add, average pooling, grouped convolutions, dynamic quantization, float layers) is refused in one line.
using Condense.Graph;
using Condense.Kernels.Conv;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    private sealed record LayerSpec(Node Node, string InputValue, float InputScale, byte InputZeroPoint, sbyte[] Weight, float[] WeightScale,
        float[] Bias, int[] WeightShape, Conv2dOptions? Conv, bool Relu);

    private sealed record Plan(List<object> Items, int[] SampleShape);   // items: LayerSpec, MaxPoolStep, FlattenStep

    /// <summary>True when <paramref name="qdq"/> compiles (see <see cref="Compile"/>); otherwise false with the one-line reason.</summary>
    public static bool CanCompile(ModelGraph qdq, out string reason) =>
        QdqLayerReader.CanCompile(qdq, g => Build(Analyze(g), pack: false), out reason);

    /// <summary>
    /// Compiles a static-quantized QDQ graph of Conv/Gemm layers (docs/quantized-graph.md) into an integer
    /// model; throws <see cref="CondenseException"/> naming what is not supported.
    /// </summary>
    public static IntegerConvModel Compile(ModelGraph qdq)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        var plan = Analyze(qdq);
        var first = plan.Items.OfType<LayerSpec>().First();
        return new IntegerConvModel(Build(plan, pack: true), plan.SampleShape, first.InputScale, first.InputZeroPoint);
    }

    private static Step[] Build(Plan plan, bool pack)
    {
        var layers = plan.Items.OfType<LayerSpec>().ToList();
        var steps = new List<Step>();
        foreach (var item in plan.Items)
        {
            if (item is not LayerSpec s) { steps.Add((Step)item); continue; }
            int l = layers.IndexOf(s), n = s.WeightShape[0];
            var next = l + 1 < layers.Count ? layers[l + 1] : null;
            var constants = QdqLayerReader.Constants(s.Node.Name, s.InputScale, s.WeightScale, s.Bias, next?.InputScale);
            int k = s.Weight.Length / n;
            var matrix = s.Conv is null ? s.Weight : QConv2d.ChannelsLastWeight(s.Weight, n, s.WeightShape[1], s.WeightShape[2], s.WeightShape[3]);
            var weight = pack ? new PackedInt8Weights(matrix, n, k) : null!;
            byte zy = next?.InputZeroPoint ?? 0;
            steps.Add(new LayerStep(s.Node.Name, s.InputValue, s.Conv, s.Conv is null ? 1 : s.WeightShape[2], s.Conv is null ? 1 : s.WeightShape[3],
                weight, s.InputZeroPoint, constants.Bias, constants.Multiplier, constants.Shift,
                zy, next is not null && s.Relu ? zy : (byte)0, constants.OutputScale, s.Relu, next is null));
        }
        return [.. steps];
    }

    private static Plan Analyze(ModelGraph g)
    {
        QdqLayerReader.CheckOneInputOneOutput(g);
        var used = new HashSet<Node>();
        var items = new List<object>();
        string output = g.Outputs[0].Name;
        int[] shape = g.Inputs[0].Shape[1..];
        if (shape.Any(d => d < 0)) throw Unsupported($"the input '{g.Inputs[0].Name}' has a dynamic sample shape {Shape.Format(g.Inputs[0].Shape)}");
        string value = g.Inputs[0].Name;
        // Before the first quantization: reshapes of the float input (an Unflatten to (C, H, W), a Flatten).
        while (SoleConsumer(g, value) is { OpType: OpTypes.Reshape or OpTypes.Flatten or OpTypes.Identity } node)
        {
            shape = Reshaped(g, node, shape);
            used.Add(node);
            value = node.Outputs[0];
        }
        int[] sampleShape = shape;
        bool anyConv = false;
        var passed = new List<(Node Q, float Scale, byte ZeroPoint)>();   // Q → DQ pairs between layers (QuantizedPooling)
        while (true)
        {
            var (scale, zeroPoint, dq, quantized) = InputQuantization(g, value, used);
            foreach (var p in passed)
                if (p.Scale != scale || p.ZeroPoint != zeroPoint)
                    throw Unsupported($"'{p.Q.Name}' quantizes with (scale {p.Scale}, zero point {p.ZeroPoint}) between layers, " +
                        $"not the next layer's (scale {scale}, zero point {zeroPoint})");
            passed.Clear();
            var layer = SoleConsumer(g, dq) ?? throw Unsupported($"the DequantizeLinear output '{dq}' is not read by a layer");
            var spec = ReadLayer(g, layer, dq, quantized, scale, zeroPoint, shape, used);
            anyConv |= spec.Conv is not null;
            shape = spec.Conv is { } options
                ? Conv2dGeometry.Of([1, .. shape], spec.WeightShape, options).OutputShape[1..]
                : [spec.WeightShape[0]];
            value = layer.Outputs[0];
            int index = items.Count;
            items.Add(spec);
            // Between layers: ReLU (fused), MaxPool on the codes, Flatten/Reshape to rows, and Q → DQ pairs
            // with the next layer's (s, z) around them (identities on the codes).
            while (SoleConsumer(g, value) is { OpType: OpTypes.Relu or OpTypes.MaxPool or OpTypes.Flatten or OpTypes.Reshape
                or OpTypes.Identity or OpTypes.Dropout or OpTypes.QuantizeLinear } node)
            {
                if (node.OpType == OpTypes.QuantizeLinear)
                {
                    if (!BetweenLayers(g, node)) break;
                    var (s, z, dequantized, _) = InputQuantization(g, value, used);
                    passed.Add((node, s, z));
                    value = dequantized;
                    continue;
                }
                switch (node.OpType)
                {
                    case OpTypes.Relu: spec = spec with { Relu = true }; break;
                    case OpTypes.MaxPool:
                        if (shape.Length != 3) throw Unsupported($"'{node.Name}' (MaxPool) reads flat rows");
                        var window = Window(node);
                        var (oh, ow) = window.OutputSize(shape[1], shape[2]);
                        items.Add(new MaxPoolStep(node.Name, window));
                        shape = [shape[0], oh, ow];
                        break;
                    case OpTypes.Flatten or OpTypes.Reshape:
                        var flat = Reshaped(g, node, shape);
                        if (flat.Length != 1)
                            throw Unsupported($"'{node.Name}' ({node.OpType}) reshapes to {Shape.Format(flat)} per sample; " +
                                "only flattening to rows is supported between layers");
                        if (shape.Length == 3) items.Add(new FlattenStep(node.Name));
                        shape = flat;
                        break;
                }
                used.Add(node);
                value = node.Outputs[0];
            }
            items[index] = spec;
            if (value == output)
            {
                if (passed.Count > 0) throw Unsupported($"'{passed[0].Q.Name}' quantizes the output of the last layer '{spec.Node.Name}'");
                if (g.Consumers(value).Any()) throw Unsupported($"the graph output '{value}' is also read by other nodes");
                if (items.Skip(index + 1).Any(i => i is MaxPoolStep))
                    throw Unsupported($"max pooling after the last layer '{spec.Node.Name}' (its output is float)");
                break;
            }
        }
        if (!anyConv) throw Unsupported("the graph has no Conv layer (Linear chains compile to IntegerModel)");
        QdqLayerReader.CheckAllUsed(g, used, "Q → DQ → Conv/Gemm → [Relu/MaxPool/Flatten]");
        return new Plan(items, sampleShape);
    }

    // A Q → DQ pair whose dequantized value goes on to a pass-through op rather than a layer.
    private static bool BetweenLayers(ModelGraph g, Node q) =>
        SoleConsumer(g, q.Outputs[0]) is { OpType: OpTypes.DequantizeLinear } dq
        && SoleConsumer(g, dq.Outputs[0]) is
            { OpType: OpTypes.Relu or OpTypes.MaxPool or OpTypes.Flatten or OpTypes.Reshape or OpTypes.Identity or OpTypes.Dropout };

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

    private static PoolWindow Window(Node node)
    {
        if (node.Outputs.Count > 1) throw Unsupported($"'{node.Name}' (MaxPool) also outputs indices");
        if (node.Attributes.TryGetValue("auto_pad", out var a) && a.StringValue is { Length: > 0 } pad && pad != "NOTSET")
            throw Unsupported($"'{node.Name}' (MaxPool) uses auto_pad {pad}");
        long[] At(string name, int count, long fallback) =>
            node.Attributes.TryGetValue(name, out var v) && v.IntsValue is { } ints ? ints : Enumerable.Repeat(fallback, count).ToArray();
        var kernel = At("kernel_shape", 2, 1);
        if (kernel.Length != 2) throw Unsupported($"'{node.Name}' (MaxPool) is not 2-D");
        var strides = At("strides", 2, 1);
        var pads = At("pads", 4, 0);
        var dilations = At("dilations", 2, 1);
        return new PoolWindow((int)kernel[0], (int)kernel[1], (int)strides[0], (int)strides[1], (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3],
            (int)dilations[0], (int)dilations[1], node.Int("ceil_mode", 0) != 0);
    }

    // value → QuantizeLinear(s, z) → DequantizeLinear(s, z): (s, z, the DQ output, the Q output).
    private static (float Scale, byte ZeroPoint, string Output, string Quantized) InputQuantization(ModelGraph g, string value, HashSet<Node> used)
    {
        var (scale, zeroPoint, q, dq) = QdqLayerReader.InputQuantization(g, value, used, NotQuantized, BranchNote);
        return (scale, zeroPoint, dq.Outputs[0], q.Outputs[0]);
    }

    private static CondenseException NotQuantized(Node reader, string value) => reader.OpType switch
    {
        OpTypes.Gemm or OpTypes.Conv => Unsupported(
            $"layer '{reader.Name}' is left in float (its input is not quantized); the integer engine needs every layer quantized statically"),
        OpTypes.Add or OpTypes.GlobalAveragePool or OpTypes.AveragePool or OpTypes.BatchNormalization => Unsupported(
            $"node '{reader.Name}' ({reader.OpType}) runs in float only (residual additions, average pooling and unfolded batch norm " +
            "are not in the integer engine; the QDQ graph still runs as float simulation and in ONNX Runtime)"),
        _ => Unsupported(
            $"node '{reader.Name}' ({reader.OpType}) reads '{value}'; "
            + "the integer engine supports only Q → DQ → Conv/Gemm → [Relu/MaxPool/Flatten] chains"),
    };

    // Conv(dq, DQ(W_q (M, C, kH, kW)), b) with one group, or Gemm(dq, DQ(W_q [out, in]), b, transB = 1).
    private static LayerSpec ReadLayer(ModelGraph g, Node layer, string dq, string quantized, float scale, byte zeroPoint, int[] shape, HashSet<Node> used)
    {
        if (layer.OpType is not (OpTypes.Conv or OpTypes.Gemm) || layer.Inputs[0] != dq)
            throw Unsupported($"node '{layer.Name}' ({layer.OpType}) reads a dequantized activation; only Conv and Gemm are supported there");
        if (layer.OpType == OpTypes.Gemm
            && (layer.Int("transA", 0) != 0 || layer.Int("transB", 0) != 1 || layer.Float("alpha", 1f) != 1f || layer.Float("beta", 1f) != 1f))
            throw Unsupported($"layer '{layer.Name}' is not a Linear Gemm (needs transA = 0, transB = 1, alpha = beta = 1)");
        var weight = QdqLayerReader.ReadWeight(g, layer, rank: layer.OpType == OpTypes.Conv ? 4 : 2, used);
        int n = weight.Shape[0], k = weight.Values.Length / n;

        Conv2dOptions? conv = null;
        if (layer.OpType == OpTypes.Conv)
        {
            if (shape.Length != 3) throw Unsupported($"Conv '{layer.Name}' reads flat rows of {Shape.Format(shape)}; it needs (C, H, W) images");
            conv = GraphOps.ConvOptions(layer, [1, .. shape], weight.Shape);
            if (conv.Groups != 1) throw Unsupported($"Conv '{layer.Name}' has {conv.Groups} groups; the int8 convolution takes one");
            Conv2dGeometry.Of([1, .. shape], weight.Shape, conv);   // checks channels and sizes
        }
        else if (shape.Length != 1 || shape[0] != k)
            throw Unsupported($"layer '{layer.Name}' takes {k} features but receives {Shape.Format(shape)} per sample");

        var bias = QdqLayerReader.ReadBias(g, layer, n);
        return new LayerSpec(layer, quantized, scale, zeroPoint, weight.Values, weight.Scale, bias, weight.Shape, conv, Relu: false);
    }

    private const string BranchNote = " (residual branches run as float simulation)";

    private static Node? SoleConsumer(ModelGraph g, string value) => QdqLayerReader.SoleConsumer(g, value, BranchNote);

    private static CondenseException Unsupported(string what) => QdqLayerReader.Unsupported(what);
}
