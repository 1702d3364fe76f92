// Dynamic int8 graphs onto the integer GEMM: each MatMul that reads DequantizeLinear(DynamicQuantizeLinear(x)) and a
// DequantizeLinear of constant int8 (or int4) weights with zero point 0 (per-tensor or per-column scales) becomes one
// DynamicQuantizeMatMul node (ONNX Runtime's com.microsoft fused op, GraphOps.Math.DynamicQuantized.cs), the form ORT
// runs quantize_dynamic models in, and the Add of a per-column bias after it joins its epilogue (ORT's input 4, as its
// MatMulIntegerToFloat fusion takes the bias). A Gemm of the same inputs (alpha = beta = 1, its C a bias per column) fuses
// the same way, its weight transposed once under transB; everything else runs as before (the weights' DequantizeLinears
// that other ops still read are folded by QuantizeDequantizeFusion, which InferenceEngine runs next). This is what
// `quantize --dynamic` writes for
// transformers (Quantizer.cs), so their Q/K/V, output and feed-forward projections run in integers; the QOperator form
// ONNX Runtime's quantize_dynamic writes (MatMulInteger, Cast and the scales' Muls) fuses to the same node.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Fuses the dynamic QDQ MatMuls of a graph.</summary>
internal static class DynamicMatMulFusion
{
    /// <summary>
    /// A copy of <paramref name="graph"/> (sharing its initializer tensors) with every dynamic QDQ MatMul and Gemm fused, with the bias
    /// Add after it when there is one, and the quantize/dequantize nodes nothing else reads removed; null when nothing fuses.
    /// </summary>
    /// <remarks>With <paramref name="statics"/> the MatMuls and Gemms of a static QDQ graph fuse instead — those reading
    /// DequantizeLinear(QuantizeLinear(x)) of uint8 codes over 0–255 — as QuantizeMatMul nodes, x quantized with the graph's
    /// fixed scale and zero point: the float simulation runs its Linear layers on the integer GEMM (torchvision's ViT-B/16
    /// static int8 ran 2.6× slower than ONNX Runtime's QLinearMatMuls in float).</remarks>
    public static ModelGraph? Fuse(ModelGraph graph, bool statics = false)
    {
        var pattern = new GraphPattern(graph);
        var replacements = new Dictionary<Node, IReadOnlyList<Node>>();
        var made = new Dictionary<string, (Tensor Value, ElementType Type)>();
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == OpTypes.Gemm && FusedGemm(graph, node, made, statics) is { } gemm)
            {
                replacements[node] = [gemm];
                continue;
            }
            var fused = node.OpType == OpTypes.MatMul ? Fused(graph, node, statics)
                : node.OpType == OpTypes.Mul && !statics ? FusedInteger(graph, pattern, node, made) : null;
            if (fused is null) continue;
            if (BiasAdd(graph, pattern, node, fused, made) is { } add)
            {
                fused = WithBias(fused, add.Bias, add.Node.Outputs);
                replacements[add.Node] = [];
            }
            replacements[node] = [fused];
        }
        if (replacements.Count == 0) return null;
        var result = GraphPattern.Rewrite(graph, replacements, made.ToDictionary(e => e.Key, e => e.Value.Value));
        foreach (var (name, (_, type)) in made) result.ElementTypes[name] = type;
        return result;
    }

    private const string TransposedSuffix = ".transposed";

    // DynamicQuantizeMatMul(x, W_q, s_w[, 0][, c]) for a Gemm(DQ(DynamicQuantizeLinear(x)), DQ(W_q, s_w[, 0])[, c]) with
    // alpha = beta = 1, A not transposed and c a bias per column, or null. Under transB the codes (N × K, a scale per row)
    // are transposed once into a new initializer: PyTorch exports a Linear on a matrix as such a Gemm (nn.MultiheadAttention's
    // output projection, a classifier head), which ran DynamicQuantizeLinear → DequantizeLinear → float Gemm on every call.
    private static Node? FusedGemm(ModelGraph g, Node gemm, Dictionary<string, (Tensor Value, ElementType Type)> made, bool statics)
    {
        if (gemm.Inputs.Count is < 2 or > 3 || gemm.Int("transA", 0) != 0 || gemm.Float("alpha", 1f) != 1f) return null;
        bool transB = gemm.Int("transB", 0) != 0;
        if (g.Producer(gemm.Inputs[1]) is not { OpType: OpTypes.DequantizeLinear } weightDq || weightDq.Int("block_size", 0) != 0) return null;
        string codes = weightDq.Inputs[0];
        if (!g.Initializers.TryGetValue(codes, out var w) || w.Rank != 2 || g.TypeOf(codes) != ElementType.Int8) return null;
        string bias = gemm.Inputs.Count == 3 ? gemm.Inputs[2] : "";
        int columns = transB ? w.Shape[0] : w.Shape[1];
        if (bias.Length > 0 && (gemm.Float("beta", 1f) != 1f || !g.Initializers.TryGetValue(bias, out var c) || g.TypeOf(bias) != ElementType.Float32
            || c.Size != columns || c.Rank > 2 || c.Rank == 2 && c.Shape[0] != 1)) return null;
        var fused = transB ? FusedTransposed(g, gemm, weightDq, w, made, statics)
            : Fused(g, new Node(gemm.Name, OpTypes.MatMul, gemm.Inputs.Take(2).ToList(), gemm.Outputs), statics);
        return fused is null || bias.Length == 0 ? fused : WithBias(fused, bias, fused.Outputs);
    }

    // DynamicQuantizeMatMul(x, W, s_w) for the QOperator form ONNX Runtime's quantize_dynamic writes by default:
    // Mul(Cast(MatMulInteger(x_q, W_q, z_x, z_w)), Mul(s_x, s_w)) with (x_q, s_x, z_x) = DynamicQuantizeLinear(x), the
    // operands of both Muls in either order — Σ (x_q − z_x)(W_q − z_w) · s_x·s_w, what the fused kernel computes. Int8
    // weights are read as they are with their zero point; uint8 weights (quantize_dynamic's QUInt8, zero point anywhere in
    // 0–255) are stored once as W_q − 128 with z_w − 128, the same differences. MatMulInteger's own sums run in float or, past 2^24, an int64 loop:
    // all-MiniLM-L6-v2 in this form ran 75 ms a passage of 128 tokens, ONNX Runtime 5.8.
    private static Node? FusedInteger(ModelGraph g, GraphPattern pattern, Node mul, Dictionary<string, (Tensor Value, ElementType Type)> made)
    {
        if (mul.Inputs.Count != 2) return null;
        Node? cast = null, scales = null;
        foreach (var (a, b) in new[] { (0, 1), (1, 0) })
            if (g.Producer(mul.Inputs[a]) is { OpType: OpTypes.Cast } c && g.Producer(mul.Inputs[b]) is { OpType: OpTypes.Mul } s) (cast, scales) = (c, s);
        if (cast is null || scales is null || cast.Int("to", 0) != 1 || pattern.OnlyReader(cast.Outputs[0]) != mul
            || g.Producer(cast.Inputs[0]) is not { OpType: OpTypes.MatMulInteger } integer || pattern.OnlyReader(integer.Outputs[0]) != cast
            || integer.Inputs.Count < 3 || g.Producer(integer.Inputs[0]) is not { OpType: OpTypes.DynamicQuantizeLinear } dynamic
            || dynamic.Outputs.Count != 3 || integer.Inputs[0] != dynamic.Outputs[0] || integer.Inputs[2] != dynamic.Outputs[2]) return null;
        string? weightScale = scales.Inputs.Count == 2 && scales.Inputs.Contains(dynamic.Outputs[1])
            ? scales.Inputs.First(i => i != dynamic.Outputs[1]) : null;
        string codes = integer.Inputs[1];
        if (weightScale is null || !g.Initializers.TryGetValue(weightScale, out var scale) || g.TypeOf(weightScale) != ElementType.Float32
            || !g.Initializers.TryGetValue(codes, out var w) || w.Rank != 2 || g.TypeOf(codes) is not (ElementType.Int8 or ElementType.UInt8)) return null;
        int n = w.Shape[1];
        if (scale.Size != 1 && !(scale.Size == n && scale.Shape[^1] == n) || !UsableScales(scale)) return null;
        // Int8 codes as they are, uint8 codes as W_q − 128 with z_w − 128 (the same W_q − z_w); z_w one value or one per column.
        Tensor? zero = integer.Inputs.Count > 3 && integer.Inputs[3].Length > 0 ? g.Initializers.GetValueOrDefault(integer.Inputs[3]) : null;
        if (integer.Inputs.Count > 3 && integer.Inputs[3].Length > 0 && (zero is null || zero.Size != 1 && zero.Size != n)) return null;
        string weight = codes, zeroPoint = zero is null ? "" : integer.Inputs[3];
        if (g.TypeOf(codes) == ElementType.UInt8)
        {
            (weight, zeroPoint) = (codes + ShiftedSuffix, codes + ZeroSuffix);
            if (g.Initializers.ContainsKey(weight) || g.Initializers.ContainsKey(zeroPoint)) return null;
            made[weight] = (new Tensor(w.Data[..w.Size].Select(v => v - 128f).ToArray(), w.Shape), ElementType.Int8);
            made[zeroPoint] = (zero is null ? Tensor.Scalar(-128f) : new Tensor(zero.Data[..zero.Size].Select(v => v - 128f).ToArray(), [zero.Size]),
                ElementType.Int8);
        }
        else if (zero is not null && zero.Rank > 1) return null;
        var vector = scale.Size == 1 ? weightScale : weightScale + ScalesSuffix;
        if (scale.Size != 1 && scale.Rank != 1)
        {
            if (g.Initializers.ContainsKey(vector)) return null;
            made[vector] = (new Tensor(scale.Data[..n], [n]), ElementType.Float32);
        }
        string[] inputs = [dynamic.Inputs[0], weight, scale.Rank == 1 || scale.Size == 1 ? weightScale : vector];
        return new Node(mul.Name, OpTypes.DynamicQuantizeMatMul, zeroPoint.Length == 0 ? inputs : [.. inputs, zeroPoint], mul.Outputs);
    }

    private const string ShiftedSuffix = ".int8", ZeroSuffix = ".int8_zero_point", ScalesSuffix = ".columns";

    // The fused node with a bias (input 4; an empty zero point before it when there is none), writing outputs.
    private static Node WithBias(Node fused, string bias, IReadOnlyList<string> outputs)
    {
        var inputs = fused.Inputs.ToList();
        while (inputs.Count < 5) inputs.Add("");
        inputs[4] = bias;
        return new Node(fused.Name, fused.OpType, inputs, outputs);
    }

    // The fused node: DynamicQuantizeMatMul(x, codes, scales[, zero point]), or under statics QuantizeMatMul with two empty
    // inputs (zero point, bias) padded before x's fixed scale and zero point.
    private static Node Make(string name, IReadOnlyList<string> outputs, string[] activation, params string[] weight) =>
        activation.Length == 1 ? new Node(name, OpTypes.DynamicQuantizeMatMul, [activation[0], .. weight], outputs)
            : new Node(name, OpTypes.QuantizeMatMul, [activation[0], .. weight, .. Enumerable.Repeat("", 5 - 1 - weight.Length), activation[1],
                activation[2]], outputs);

    // The fused node of a Gemm under transB: its codes transposed (K × N) and read with the DequantizeLinear's scale per row
    // (axis 0) as a scale per column.
    private static Node? FusedTransposed(ModelGraph g, Node gemm, Node weightDq, Tensor w, Dictionary<string, (Tensor Value, ElementType Type)> made,
        bool statics)
    {
        if (Activation(g, gemm.Inputs[0], statics) is not { } x) return null;
        if (weightDq.Inputs.Count < 2 || !g.Initializers.TryGetValue(weightDq.Inputs[1], out var scale)) return null;
        long axis = weightDq.Int("axis", 1);
        bool perRow = scale.Size == w.Shape[0] && scale.Rank == 1 && (axis == 0 || axis == -2);
        if (scale.Size != 1 && !perRow || !ZeroPointIsZero(g, weightDq) || !UsableScales(scale)) return null;
        string name = weightDq.Inputs[0] + TransposedSuffix;
        if (g.Initializers.ContainsKey(name)) return null;
        made[name] = (w.Transpose(), ElementType.Int8);
        return Make(gemm.Name, gemm.Outputs, x, name, weightDq.Inputs[1]);
    }

    // The Add of a constant bias (one value per column of the weights) that alone reads the MatMul's output: ONNX Runtime's
    // DynamicQuantizeMatMul adds it in its epilogue (its input 4), with no pass of its own over the output.
    private static (Node Node, string Bias)? BiasAdd(ModelGraph g, GraphPattern pattern, Node matMul, Node fused,
        Dictionary<string, (Tensor Value, ElementType Type)> made)
    {
        var weight = g.Initializers.TryGetValue(fused.Inputs[1], out var given) ? given : made[fused.Inputs[1]].Value;
        if (pattern.OnlyReader(matMul.Outputs[0]) is not { OpType: OpTypes.Add, Outputs.Count: 1 } add || !pattern.Split(add, out _, out var bias)) return null;
        return pattern.IsVector(bias) && g.Initializers[bias].Size == weight.Shape[1] ? (add, bias) : null;
    }
    // DynamicQuantizeMatMul(x, W_q, s_w[, 0]) for MatMul(DQ(DynamicQuantizeLinear(x)), DQ(W_q, s_w[, 0])), or null.
    private static Node? Fused(ModelGraph g, Node matMul, bool statics)
    {
        if (matMul.Inputs.Count != 2 || Activation(g, matMul.Inputs[0], statics) is not { } x) return null;
        if (g.Producer(matMul.Inputs[1]) is not { OpType: OpTypes.DequantizeLinear } weightDq || weightDq.Int("block_size", 0) != 0) return null;
        string codes = weightDq.Inputs[0];
        if (!g.Initializers.TryGetValue(codes, out var w) || w.Rank != 2 || g.TypeOf(codes) is not (ElementType.Int8 or ElementType.Int4))
            return null;
        if (weightDq.Inputs.Count < 2 || !g.Initializers.TryGetValue(weightDq.Inputs[1], out var scale)) return null;
        long axis = weightDq.Int("axis", 1);
        bool perColumn = scale.Size == w.Shape[1] && scale.Rank == 1 && (axis == 1 || axis == -1);
        if (scale.Size != 1 && !perColumn || !UsableScales(scale) || !ZeroPointIsZero(g, weightDq)) return null;
        return weightDq.Inputs.Count > 2 && weightDq.Inputs[2].Length > 0 ? Make(matMul.Name, matMul.Outputs, x, codes, weightDq.Inputs[1], weightDq.Inputs[2])
            : Make(matMul.Name, matMul.Outputs, x, codes, weightDq.Inputs[1]);
    }

    // [x] for a value DequantizeLinear(DynamicQuantizeLinear(x)); under statics [x, s, z] for DequantizeLinear(QuantizeLinear(x, s,
    // z), s, z) of uint8 codes over 0–255, one scale; else null.
    private static string[]? Activation(ModelGraph g, string value, bool statics)
    {
        if (!statics) return DynamicInput(g, value) is { } x ? [x] : null;
        if (g.Producer(value) is not { OpType: OpTypes.DequantizeLinear } dq || dq.Inputs.Count < 3
            || g.Producer(dq.Inputs[0]) is not { OpType: OpTypes.QuantizeLinear } q || q.Inputs.Count < 3 || g.Initializers.ContainsKey(q.Inputs[0])
            || q.Int("qmin", 0) != 0 || q.Int("qmax", 255) != 255 || dq.Int("block_size", 0) != 0) return null;
        bool Scalar(string name) => g.Initializers.TryGetValue(name, out var t) && t.Size == 1;
        bool Same(string a, string b) => a == b || Scalar(a) && Scalar(b) && g.Initializers[a].Data[0] == g.Initializers[b].Data[0];
        if (!Scalar(q.Inputs[1]) || !Scalar(q.Inputs[2]) || g.TypeOf(q.Inputs[2]) != ElementType.UInt8 || g.TypeOf(dq.Inputs[2]) != ElementType.UInt8
            || !Same(q.Inputs[1], dq.Inputs[1]) || !Same(q.Inputs[2], dq.Inputs[2])) return null;
        return [q.Inputs[0], q.Inputs[1], q.Inputs[2]];
    }

    // x for a value DequantizeLinear(DynamicQuantizeLinear(x)), or null.
    private static string? DynamicInput(ModelGraph g, string value)
    {
        if (g.Producer(value) is not { OpType: OpTypes.DequantizeLinear } inputDq || inputDq.Inputs.Count < 3) return null;
        return g.Producer(inputDq.Inputs[0]) is { OpType: OpTypes.DynamicQuantizeLinear } dynamic && inputDq.Inputs.SequenceEqual(dynamic.Outputs)
            ? dynamic.Inputs[0] : null;
    }

    // Every weight scale positive and finite.
    private static bool UsableScales(Tensor scale) => scale.Data.All(v => v > 0f && !float.IsInfinity(v));

    // The weights' DequantizeLinear has no zero point, or a constant one of zeros.
    private static bool ZeroPointIsZero(ModelGraph g, Node weightDq) =>
        weightDq.Inputs.Count < 3 || weightDq.Inputs[2].Length == 0
        || g.Initializers.TryGetValue(weightDq.Inputs[2], out var zero) && zero.Data.All(z => z == 0f);
}
