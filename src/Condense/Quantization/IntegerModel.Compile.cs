// Compiling a QDQ graph into the integer engine: recognise the static chain of docs/quantized-graph.md,
//   input → [Flatten] → Q → DQ → Gemm(DQ(W_q), b) → [Relu] → Q → DQ → Gemm … → Gemm → output,
// and precompute per layer (x_q uint8 with (s_x, z_x), w_q int8 per-channel symmetric with s_w[o]):
//   bias32[o] = round(b[o] / (s_x·s_w[o]))                     (int32; a larger value is an error)
//   M[o] = s_x·s_w[o] / s_y as (multiplier, shift)               ((s_y, z_y) = the next layer's input Q)
//   qmin = z_y when a ReLU sits between the Gemm and the next Q  (ReLU fused: clamp at the zero point)
// Anything else (dynamic quantization, a layer left in float, other ops, branches) is refused in one line.
using Condense.Graph;
using Condense.Kernels;
using Condense.Tensors;

namespace Condense.Quantization;

public sealed partial class IntegerModel
{
    // A layer as read from the graph, before packing.
    private sealed record LayerSpec(Node Gemm, float InputScale, byte InputZeroPoint, sbyte[] Weight, float[] WeightScale,
        float[] Bias, int OutFeatures, int InFeatures, bool Relu);

    // Ops that are the identity on a (N, features) inference batch.
    private static readonly HashSet<string> PassThrough = ["Flatten", "Identity", "Dropout"];

    /// <summary>
    /// True when <paramref name="qdq"/> is a static-quantized chain the integer engine runs; otherwise false with
    /// a one-line <paramref name="reason"/> (the message <see cref="Compile"/> would throw).
    /// </summary>
    public static bool CanCompile(ModelGraph qdq, out string reason)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        try
        {
            Build(Analyze(qdq), pack: false);
            reason = "";
            return true;
        }
        catch (CondenseException e)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Compiles a static-quantized QDQ graph (docs/quantized-graph.md) into an integer model; throws
    /// <see cref="CondenseException"/> naming what is not supported when the graph is not such a chain.
    /// </summary>
    public static IntegerModel Compile(ModelGraph qdq)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        var specs = Analyze(qdq);
        return new IntegerModel(Build(specs, pack: true), specs[0].InputScale, specs[0].InputZeroPoint);
    }

    private static Layer[] Build(List<LayerSpec> specs, bool pack)
    {
        var layers = new Layer[specs.Count];
        for (int l = 0; l < specs.Count; l++)
        {
            var s = specs[l];
            int n = s.OutFeatures;
            var bias = new int[n]; var multiplier = new int[n]; var shift = new int[n]; var outputScale = new float[n];
            var next = l + 1 < specs.Count ? specs[l + 1] : null;
            for (int o = 0; o < n; o++)
            {
                double accScale = (double)s.InputScale * s.WeightScale[o];
                double b = Math.Round(s.Bias[o] / accScale, MidpointRounding.ToEven);
                if (!(Math.Abs(b) <= int.MaxValue))
                    throw new CondenseException($"layer '{s.Gemm.Name}': bias[{o}] = {s.Bias[o]:G6} is {b:G3} steps of s_x·s_w = {accScale:G3}, beyond int32; the input or weight scale is too small");
                bias[o] = (int)b;
                outputScale[o] = (float)accScale;
                if (next is not null) Requantize.QuantizeMultiplier(accScale / next.InputScale, out multiplier[o], out shift[o]);
            }
            byte zy = next?.InputZeroPoint ?? 0;
            var weight = pack ? new PackedInt8Weights(s.Weight, n, s.InFeatures) : null!;
            layers[l] = new Layer(s.Gemm.Name, weight, s.InputZeroPoint, bias, multiplier, shift, zy,
                next is not null && s.Relu ? zy : (byte)0, outputScale, next is null && s.Relu);
        }
        return layers;
    }

    private static List<LayerSpec> Analyze(ModelGraph g)
    {
        g.Validate();
        if (g.Inputs.Count != 1 || g.Outputs.Count != 1)
            throw Unsupported($"the graph has {g.Inputs.Count} inputs and {g.Outputs.Count} outputs; one of each is needed");
        var used = new HashSet<Node>();
        var specs = new List<LayerSpec>();
        string output = g.Outputs[0].Name;
        string value = Skip(g, g.Inputs[0].Name, used);
        int features = SampleSize(g.Inputs[0].Shape);
        while (true)
        {
            var (scale, zeroPoint, dq) = InputQuantization(g, value, used);
            var gemm = SoleConsumer(g, dq) ?? throw Unsupported($"the DequantizeLinear output '{dq}' is not read by a Gemm");
            var spec = ReadGemm(g, gemm, dq, scale, zeroPoint, used);
            if (features >= 0 && spec.InFeatures != features)
                throw Unsupported($"layer '{gemm.Name}' takes {spec.InFeatures} features but receives {features}");
            features = spec.OutFeatures;
            value = gemm.Outputs[0];
            if (SoleConsumer(g, value) is { OpType: "Relu" } relu)
            {
                used.Add(relu);
                value = relu.Outputs[0];
                spec = spec with { Relu = true };
            }
            specs.Add(spec);
            value = Skip(g, value, used);
            if (value == output)
            {
                if (g.Consumers(value).Any()) throw Unsupported($"the graph output '{value}' is also read by other nodes");
                break;
            }
        }
        foreach (var node in g.Nodes)
            if (!used.Contains(node))
                throw Unsupported($"node '{node.Name}' ({node.OpType}) is not part of the Q → DQ → Gemm → [Relu] chain");
        return specs;
    }

    // The static input quantization of a layer: value → QuantizeLinear(s, z) → DequantizeLinear(s, z).
    private static (float Scale, byte ZeroPoint, string Output) InputQuantization(ModelGraph g, string value, HashSet<Node> used)
    {
        var q = SoleConsumer(g, value) ?? throw Unsupported($"value '{value}' is neither the graph output nor read by a node");
        switch (q.OpType)
        {
            case "QuantizeLinear": break;
            case "DynamicQuantizeLinear":
                throw Unsupported($"node '{q.Name}' quantizes dynamically; the integer engine runs static quantization only (fixed input scales)");
            case "Gemm":
                throw Unsupported($"layer '{q.Name}' is left in float (its input is not quantized); the integer engine needs every Gemm quantized statically");
            default:
                throw Unsupported($"node '{q.Name}' ({q.OpType}) reads '{value}'; the integer engine supports only Q → DQ → Gemm → [Relu] chains");
        }
        var (scale, zeroPoint) = ActivationParams(g, q);
        var dq = SoleConsumer(g, q.Outputs[0]);
        if (dq is not { OpType: "DequantizeLinear" })
            throw Unsupported($"QuantizeLinear '{q.Name}' is not followed by a DequantizeLinear");
        var (dqScale, dqZeroPoint) = ActivationParams(g, dq);
        if (dqScale != scale || dqZeroPoint != zeroPoint)
            throw Unsupported($"'{dq.Name}' dequantizes with (scale {dqScale}, zero point {dqZeroPoint}), not the (scale {scale}, zero point {zeroPoint}) of '{q.Name}'");
        used.Add(q);
        used.Add(dq);
        return (scale, zeroPoint, dq.Outputs[0]);
    }

    // Per-tensor uint8 parameters of an activation Q or DQ node: a scalar scale and a UInt8 zero point (or none).
    private static (float Scale, byte ZeroPoint) ActivationParams(ModelGraph g, Node node)
    {
        var scale = Initializer(g, node, 1, "scale");
        if (scale.Size != 1) throw Unsupported($"'{node.Name}' has {scale.Size} scales; activations must be quantized per tensor");
        if (node.Inputs.Count < 3 || node.Inputs[2].Length == 0) return (scale.Data[0], 0);
        var zeroPoint = Initializer(g, node, 2, "zero point");
        var type = g.TypeOf(node.Inputs[2]);
        if (type != ElementType.UInt8)
            throw Unsupported($"'{node.Name}' quantizes to {type}; the integer engine takes uint8 activations");
        if (zeroPoint.Size != 1) throw Unsupported($"'{node.Name}' has {zeroPoint.Size} zero points; activations must be quantized per tensor");
        type.CheckValues(node.Inputs[2], zeroPoint.Data);
        return (scale.Data[0], (byte)zeroPoint.Data[0]);
    }

    // Gemm(dq, DequantizeLinear(W_q, s_w, 0, axis = 0), b, transB = 1) with W_q int8 [out, in].
    private static LayerSpec ReadGemm(ModelGraph g, Node gemm, string dq, float scale, byte zeroPoint, HashSet<Node> used)
    {
        if (gemm.OpType != "Gemm" || gemm.Inputs[0] != dq)
            throw Unsupported($"node '{gemm.Name}' ({gemm.OpType}) reads a dequantized activation; only Gemm is supported there");
        if (gemm.Int("transA", 0) != 0 || gemm.Int("transB", 0) != 1 || gemm.Float("alpha", 1f) != 1f || gemm.Float("beta", 1f) != 1f)
            throw Unsupported($"layer '{gemm.Name}' is not a Linear Gemm (needs transA = 0, transB = 1, alpha = beta = 1)");
        var wdq = gemm.Inputs.Count > 1 ? g.Producer(gemm.Inputs[1]) : null;
        if (wdq is not { OpType: "DequantizeLinear" })
            throw Unsupported($"layer '{gemm.Name}' has a float weight; the integer engine needs DequantizeLinear(int8 weight)");
        if (g.Consumers(wdq.Outputs[0]).Count() != 1)
            throw Unsupported($"the dequantized weight '{wdq.Outputs[0]}' is shared by several nodes");
        used.Add(gemm);
        used.Add(wdq);

        var w = Initializer(g, wdq, 0, "quantized weight");
        var weightType = g.TypeOf(wdq.Inputs[0]);
        if (weightType is not (ElementType.Int8 or ElementType.Int4) || w.Rank != 2)
            throw Unsupported($"layer '{gemm.Name}': the weight '{wdq.Inputs[0]}' must be an Int8 (or Int4) [out, in] initializer (it is {weightType} {Shape.Format(w.Shape)})");
        int n = w.Shape[0], k = w.Shape[1];
        if (k > PackedInt8Weights.MaxInFeatures)
            throw Unsupported($"layer '{gemm.Name}' has {k} input features; the int8 kernel takes at most {PackedInt8Weights.MaxInFeatures}");
        weightType.CheckValues(wdq.Inputs[0], w.Data);   // int4 values run as int8
        var ws = Initializer(g, wdq, 1, "weight scale");
        if (ws.Size != n && ws.Size != 1)
            throw Unsupported($"layer '{gemm.Name}' has {ws.Size} weight scales for {n} output channels");
        if (ws.Size > 1 && wdq.Int("axis", 1) != 0)
            throw Unsupported($"layer '{gemm.Name}': per-channel weight scales must run along axis 0 (output channels)");
        foreach (float s in ws.Data)
            if (!(s > 0f) || !float.IsFinite(s)) throw Unsupported($"layer '{gemm.Name}' has weight scale {s}");
        if (wdq.Inputs.Count > 2 && wdq.Inputs[2].Length > 0)
        {
            var wz = Initializer(g, wdq, 2, "weight zero point");
            if (wz.Data.Any(v => v != 0f))
                throw Unsupported($"layer '{gemm.Name}' has nonzero weight zero points; the integer engine takes symmetric weights only");
        }

        var bias = new float[n];
        if (gemm.Inputs.Count > 2 && gemm.Inputs[2].Length > 0)
        {
            if (!g.Initializers.TryGetValue(gemm.Inputs[2], out var b) || g.TypeOf(gemm.Inputs[2]) != ElementType.Float32 || b.Size != n)
                throw Unsupported($"layer '{gemm.Name}': the bias must be a float initializer with {n} values");
            b.Data.CopyTo(bias, 0);
        }
        var weight = new sbyte[w.Size];
        for (int i = 0; i < weight.Length; i++) weight[i] = (sbyte)w.Data[i];
        var weightScale = ws.Size == n ? (float[])ws.Data.Clone() : Enumerable.Repeat(ws.Data[0], n).ToArray();
        return new LayerSpec(gemm, scale, zeroPoint, weight, weightScale, bias, n, k, Relu: false);
    }

    // Follows Flatten / Identity / Dropout nodes, which are the identity on a batch of flat rows.
    private static string Skip(ModelGraph g, string value, HashSet<Node> used)
    {
        while (SoleConsumer(g, value) is { } node && PassThrough.Contains(node.OpType))
        {
            if (node.OpType == "Flatten" && node.Int("axis", 1) != 1)
                throw Unsupported($"'{node.Name}' flattens at axis {node.Int("axis", 1)}; only axis 1 keeps the batch");
            used.Add(node);
            value = node.Outputs[0];
        }
        return value;
    }

    private static Node? SoleConsumer(ModelGraph g, string value)
    {
        var consumers = g.Consumers(value).ToList();
        if (consumers.Count > 1)
            throw Unsupported($"value '{value}' is read by {consumers.Count} nodes ({string.Join(", ", consumers.Select(c => c.Name))}); only a simple chain is supported");
        return consumers.Count == 1 ? consumers[0] : null;
    }

    private static Tensor Initializer(ModelGraph g, Node node, int index, string what) =>
        index < node.Inputs.Count && g.Initializers.TryGetValue(node.Inputs[index], out var t) ? t
            : throw Unsupported($"the {what} of '{node.Name}' is not a constant initializer");

    // The flat size of one sample, or −1 when a dimension is dynamic.
    private static int SampleSize(int[] shape)
    {
        int size = 1;
        foreach (int d in shape.AsSpan(1)) { if (d < 0) return -1; size *= d; }
        return size;
    }

    private static CondenseException Unsupported(string what) => new($"integer engine: {what}");
}
