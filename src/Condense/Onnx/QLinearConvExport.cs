// QDQ → QOperator for a static quantized convolution: Conv(DQ(x_q), DQ(W_q), b) → [Relu] → [MaxPool |
// Flatten | Reshape]* → QuantizeLinear(s_y, z_y) becomes
//   QLinearConv(x_q, s_x, z_x, W_q, s_w, z_w, s_y, z_y, bias32) → [MaxPool | Flatten | Reshape]* on uint8,
// the ops between the layer and the next QuantizeLinear now carrying the codes: max commutes with the
// monotone dequantization and reshapes move codes unchanged, so this is the integer engine's function
// (IntegerConvModel), and what ORT's QDQ transformer would run. A Relu is fused only when z_y = 0 (the
// requantization saturates at 0). QLinearConv always writes uint8, so a conv whose output is not quantized
// (the last layer, or another op in between) stays in QDQ form; a dynamic conv stays in QDQ form too.
using Condense.Graph;

namespace Condense.Onnx;

/// <summary>The Conv → QLinearConv case of <see cref="QOperatorExport"/>.</summary>
internal static class QLinearConvExport
{
    private static readonly HashSet<string> CodePreserving = [OpTypes.MaxPool, OpTypes.Flatten, OpTypes.Reshape, OpTypes.Identity];

    /// <summary>The QLinearConv replacing <paramref name="conv"/>, or null when it stays as it is.</summary>
    public static List<Node>? Rewrite(QdqGraphRewrite r, Node conv)
    {
        var weight = r.QuantizedWeight(conv);
        if (weight is null) return null;   // a layer left in float
        if (r.Graph.Producer(conv.Inputs[0]) is not { OpType: OpTypes.DequantizeLinear } input)
            throw r.Error($"layer '{conv.Name}' quantizes only its weights; QOperator needs static quantization (use the qdq format)");
        if (r.Graph.Producer(input.Inputs[0]) is { OpType: OpTypes.DynamicQuantizeLinear }) return null;
        if (r.Graph.TypeOf(weight.Inputs[0]) != ElementType.Int8)
            throw r.Error($"layer '{conv.Name}' has {r.Graph.TypeOf(weight.Inputs[0])} weights; QLinearConv takes int8 (quantize with 8 bits)");
        if (FindOutputQuantization(r.Graph, conv) is not var (chain, q)) return null;

        var (inputScale, inputZeroPoint) = r.ActivationParams(input);
        var weightScale = r.PerChannelScales(weight, r.Graph.Initializers[weight.Inputs[0]].Shape[0]);
        string bias = r.Int32Bias(conv, inputScale, weightScale);
        var kept = chain.Where(n => n.OpType is not (OpTypes.Relu or OpTypes.QuantizeLinear or OpTypes.DequantizeLinear)).ToList();
        string output = kept.Count == 0 ? q.Outputs[0] : conv.Name + "/QLinearConv_output_0";
        for (int i = 0; i < kept.Count; i++)
        {
            kept[i].Inputs[0] = i == 0 ? output : kept[i - 1].Outputs[0];
            if (i == kept.Count - 1) kept[i].Outputs[0] = q.Outputs[0];
        }
        foreach (var absorbed in chain.Where(n => n.OpType is OpTypes.Relu or OpTypes.QuantizeLinear or OpTypes.DequantizeLinear)) r.Absorb(absorbed);
        r.Absorb(q);
        var inputs = new List<string> { input.Inputs[0], input.Inputs[1], inputZeroPoint,
            weight.Inputs[0], weight.Inputs[1], r.WeightZeroPoint(weight), q.Inputs[1], q.Inputs[2] };
        if (bias.Length > 0) inputs.Add(bias);
        var attributes = conv.Attributes.ToDictionary(a => a.Key, a => a.Value);
        return [new Node(conv.Name + "/QLinearConv", OpTypes.QLinearConv, inputs, [output], attributes)];
    }

    private static bool SameParameters(ModelGraph g, Node a, Node b) =>
        a.Inputs.Count >= 3 && b.Inputs.Count >= 3
        && g.Initializers.TryGetValue(a.Inputs[1], out var sa) && g.Initializers.TryGetValue(b.Inputs[1], out var sb) && sa.Data.SequenceEqual(sb.Data)
        && g.Initializers.TryGetValue(a.Inputs[2], out var za) && g.Initializers.TryGetValue(b.Inputs[2], out var zb) && za.Data.SequenceEqual(zb.Data);

    // conv → (Relu | MaxPool | Flatten | Reshape | Identity)* → QuantizeLinear (uint8, per tensor): the ops
    // between and the Q, or null. Each value on the way has one reader and is no graph output; a Relu needs z_y = 0.
    private static (List<Node> Chain, Node Quantize)? FindOutputQuantization(ModelGraph g, Node conv)
    {
        var outputs = g.Outputs.Select(o => o.Name).ToHashSet();
        var chain = new List<Node>();
        string value = conv.Outputs[0];
        while (true)
        {
            var consumers = g.Consumers(value).ToList();
            if (consumers.Count != 1 || outputs.Contains(value)) return null;
            var next = consumers[0];
            if (next.Inputs[0] != value || next.Outputs.Count != 1) return null;
            // A Q → DQ pair with the final (s, z) before a code-preserving op (Quantization/QuantizedPooling.cs) is an identity.
            if (next.OpType == OpTypes.QuantizeLinear && g.Consumers(next.Outputs[0]).ToList() is [{ OpType: OpTypes.DequantizeLinear } dq]
                && g.Consumers(dq.Outputs[0]).ToList() is [{ } after] && (after.OpType == OpTypes.Relu || CodePreserving.Contains(after.OpType)))
            {
                chain.Add(next);
                chain.Add(dq);
                value = dq.Outputs[0];
                continue;
            }
            if (next.OpType == OpTypes.QuantizeLinear)
            {
                if (next.Attributes.ContainsKey("qmin") || next.Attributes.ContainsKey("qmax") || next.Inputs.Count < 3
                    || !g.Initializers.TryGetValue(next.Inputs[1], out var scale) || scale.Size != 1
                    || !g.Initializers.TryGetValue(next.Inputs[2], out var zeroPoint) || zeroPoint.Size != 1
                    || g.TypeOf(next.Inputs[2]) != ElementType.UInt8
                    || (chain.Any(n => n.OpType == OpTypes.Relu) && zeroPoint.Data[0] != 0f)
                    || chain.Any(n => n.OpType == OpTypes.QuantizeLinear && !SameParameters(g, n, next)))
                    return null;
                return (chain, next);
            }
            if (next.OpType != OpTypes.Relu && !CodePreserving.Contains(next.OpType)) return null;
            chain.Add(next);
            value = next.Outputs[0];
        }
    }
}
