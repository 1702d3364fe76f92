// Compiling a QDQ graph into the integer engine: recognise the static chain of docs/quantized-graph.md,
//   input → [Flatten] → Q → DQ → Gemm(DQ(W_q), b) → [Relu] → Q → DQ → Gemm … → Gemm → output,
// and precompute per layer (x_q uint8 with (s_x, z_x), w_q int8 per-channel symmetric with s_w[o]):
//   bias32[o] = round(b[o] / (s_x·s_w[o]))                     (int32; a larger value is an error)
//   M[o] = s_x·s_w[o] / s_y as (multiplier, shift)               ((s_y, z_y) = the next layer's input Q)
//   qmin = z_y when a ReLU sits between the Gemm and the next Q  (ReLU fused: clamp at the zero point)
// Anything else (dynamic quantization, a layer left in float, other ops, branches) is refused in one line.
using Condense.Graph;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerModel
{
    // A layer as read from the graph, before packing.
    private sealed record LayerSpec(Node Gemm, float InputScale, byte InputZeroPoint, sbyte[] Weight, float[] WeightScale,
        float[] Bias, int OutFeatures, int InFeatures, bool Relu);

    // Ops that are the identity on a (N, features) inference batch.
    private static readonly HashSet<string> PassThrough = [OpTypes.Flatten, OpTypes.Identity, OpTypes.Dropout];

    /// <summary>
    /// True when <paramref name="qdq"/> is a static-quantized chain the integer engine runs; otherwise false with
    /// a one-line <paramref name="reason"/> (the message <see cref="Compile"/> would throw).
    /// </summary>
    public static bool CanCompile(ModelGraph qdq, out string reason) =>
        QdqLayerReader.CanCompile(qdq, g => Build(Analyze(g), pack: false), out reason);

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
            var next = l + 1 < specs.Count ? specs[l + 1] : null;
            var constants = QdqLayerReader.Constants(s.Gemm.Name, s.InputScale, s.WeightScale, s.Bias, next?.InputScale);
            byte zy = next?.InputZeroPoint ?? 0;
            var weight = pack ? new PackedInt8Weights(s.Weight, s.OutFeatures, s.InFeatures) : null!;
            layers[l] = new Layer(s.Gemm.Name, weight, s.InputZeroPoint, constants.Bias, constants.Multiplier, constants.Shift, zy,
                next is not null && s.Relu ? zy : (byte)0, constants.OutputScale, next is null && s.Relu);
        }
        return layers;
    }

    private static List<LayerSpec> Analyze(ModelGraph g)
    {
        QdqLayerReader.CheckOneInputOneOutput(g);
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
            if (SoleConsumer(g, value) is { OpType: OpTypes.Relu } relu)
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
        QdqLayerReader.CheckAllUsed(g, used, "Q → DQ → Gemm → [Relu]");
        return specs;
    }

    // The static input quantization of a layer: value → QuantizeLinear(s, z) → DequantizeLinear(s, z).
    private static (float Scale, byte ZeroPoint, string Output) InputQuantization(ModelGraph g, string value, HashSet<Node> used)
    {
        var (scale, zeroPoint, _, dq) = QdqLayerReader.InputQuantization(g, value, used, NotQuantized);
        return (scale, zeroPoint, dq.Outputs[0]);
    }

    private static CondenseException NotQuantized(Node reader, string value) => reader.OpType == OpTypes.Gemm
        ? Unsupported($"layer '{reader.Name}' is left in float (its input is not quantized); the integer engine needs every Gemm quantized statically")
        : Unsupported($"node '{reader.Name}' ({reader.OpType}) reads '{value}'; the integer engine supports only Q → DQ → Gemm → [Relu] chains");

    // Gemm(dq, DequantizeLinear(W_q, s_w, 0, axis = 0), b, transB = 1) with W_q int8 [out, in].
    private static LayerSpec ReadGemm(ModelGraph g, Node gemm, string dq, float scale, byte zeroPoint, HashSet<Node> used)
    {
        if (gemm.OpType != OpTypes.Gemm || gemm.Inputs[0] != dq)
            throw Unsupported($"node '{gemm.Name}' ({gemm.OpType}) reads a dequantized activation; only Gemm is supported there");
        if (gemm.Int("transA", 0) != 0 || gemm.Int("transB", 0) != 1 || gemm.Float("alpha", 1f) != 1f || gemm.Float("beta", 1f) != 1f)
            throw Unsupported($"layer '{gemm.Name}' is not a Linear Gemm (needs transA = 0, transB = 1, alpha = beta = 1)");
        var weight = QdqLayerReader.ReadWeight(g, gemm, rank: 2, used);
        int n = weight.Shape[0], k = weight.Shape[1];
        var bias = QdqLayerReader.ReadBias(g, gemm, n);
        return new LayerSpec(gemm, scale, zeroPoint, weight.Values, weight.Scale, bias, n, k, Relu: false);
    }

    // Follows Flatten / Identity / Dropout nodes, which are the identity on a batch of flat rows.
    private static string Skip(ModelGraph g, string value, HashSet<Node> used)
    {
        while (SoleConsumer(g, value) is { } node && PassThrough.Contains(node.OpType))
        {
            if (node.OpType == OpTypes.Flatten && node.Int("axis", 1) != 1)
                throw Unsupported($"'{node.Name}' flattens at axis {node.Int("axis", 1)}; only axis 1 keeps the batch");
            used.Add(node);
            value = node.Outputs[0];
        }
        return value;
    }

    private static Node? SoleConsumer(ModelGraph g, string value) => QdqLayerReader.SoleConsumer(g, value);

    // The flat size of one sample, or −1 when a dimension is dynamic.
    private static int SampleSize(int[] shape)
    {
        int size = 1;
        foreach (int d in shape.AsSpan(1)) { if (d < 0) return -1; size *= d; }
        return size;
    }

    private static CondenseException Unsupported(string what) => QdqLayerReader.Unsupported(what);
}
