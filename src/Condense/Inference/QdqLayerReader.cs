// What the two integer engines (IntegerModel for Gemm chains, IntegerConvModel for Conv/Gemm chains) share when
// they read a static QDQ graph (docs/quantized-graph.md): the Q → DQ pair before a layer, the per-tensor uint8
// activation parameters, the DQ(int8 weight) with per-output-channel symmetric scales, the float bias, and the
// integer constants of a layer:
//   bias32[o] = round(b[o] / (s_x·s_w[o]))   (int32; a larger value is an error)
//   M[o] = s_x·s_w[o] / s_y as (multiplier, shift)   ((s_y, z_y) = the next layer's input Q)
// Every refusal is a one-line CondenseException starting "integer engine:".
using Condense.Graph;
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Inference;

internal static class QdqLayerReader
{
    /// <summary>A layer's int8 weight as stored ([out, in] or (M, C, kH, kW)) with one scale per output channel.</summary>
    internal sealed record QuantizedWeight(sbyte[] Values, int[] Shape, float[] Scale);

    /// <summary>The int32 constants of one layer; Multiplier and Shift stay zero for the last layer (its output is float).</summary>
    internal sealed record LayerConstants(int[] Bias, int[] Multiplier, int[] Shift, float[] OutputScale);

    internal static CondenseException Unsupported(string what) => new($"integer engine: {what}");

    /// <summary>Runs <paramref name="compile"/> on <paramref name="qdq"/>; false with its one-line message when it refuses the graph.</summary>
    internal static bool CanCompile(ModelGraph qdq, Action<ModelGraph> compile, out string reason)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        try
        {
            compile(qdq);
            reason = "";
            return true;
        }
        catch (CondenseException e)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>Validates <paramref name="g"/> and refuses anything but one input and one output.</summary>
    internal static void CheckOneInputOneOutput(ModelGraph g)
    {
        g.Validate();
        if (g.Inputs.Count != 1 || g.Outputs.Count != 1)
            throw Unsupported($"the graph has {g.Inputs.Count} inputs and {g.Outputs.Count} outputs; one of each is needed");
    }

    /// <summary>Refuses the first node of <paramref name="g"/> outside the recognised <paramref name="chain"/>.</summary>
    internal static void CheckAllUsed(ModelGraph g, HashSet<Node> used, string chain)
    {
        foreach (var node in g.Nodes)
            if (!used.Contains(node))
                throw Unsupported($"node '{node.Name}' ({node.OpType}) is not part of the {chain} chain");
    }

    /// <summary>The only node reading <paramref name="value"/> (null when none); several readers are refused.</summary>
    internal static Node? SoleConsumer(ModelGraph g, string value, string branchNote = "")
    {
        var consumers = g.Consumers(value).ToList();
        if (consumers.Count > 1)
            throw Unsupported($"value '{value}' is read by {consumers.Count} nodes ({string.Join(", ", consumers.Select(c => c.Name))}); " +
                $"only a simple chain is supported{branchNote}");
        return consumers.Count == 1 ? consumers[0] : null;
    }

    internal static Tensor Initializer(ModelGraph g, Node node, int index, string what) =>
        index < node.Inputs.Count && g.Initializers.TryGetValue(node.Inputs[index], out var t) ? t
            : throw Unsupported($"the {what} of '{node.Name}' is not a constant initializer");

    /// <summary>
    /// The static input quantization of a layer, <paramref name="value"/> → QuantizeLinear(s, z) → DequantizeLinear(s, z):
    /// marks both used and returns (s, z) and the two nodes. A missing reader and dynamic quantization are refused here;
    /// any other reader of the value is explained by the engine's <paramref name="notQuantized"/>(reader, value).
    /// </summary>
    internal static (float Scale, byte ZeroPoint, Node Q, Node Dq) InputQuantization(ModelGraph g, string value, HashSet<Node> used,
        Func<Node, string, CondenseException> notQuantized, string branchNote = "")
    {
        var q = SoleConsumer(g, value, branchNote) ?? throw Unsupported($"value '{value}' is neither the graph output nor read by a node");
        if (q.OpType == OpTypes.DynamicQuantizeLinear)
            throw Unsupported($"node '{q.Name}' quantizes dynamically; the integer engine runs static quantization only (fixed input scales)");
        if (q.OpType != OpTypes.QuantizeLinear) throw notQuantized(q, value);
        var (scale, zeroPoint) = ActivationParams(g, q);
        var dq = SoleConsumer(g, q.Outputs[0], branchNote);
        if (dq is not { OpType: OpTypes.DequantizeLinear })
            throw Unsupported($"QuantizeLinear '{q.Name}' is not followed by a DequantizeLinear");
        var (dqScale, dqZeroPoint) = ActivationParams(g, dq);
        if (dqScale != scale || dqZeroPoint != zeroPoint)
            throw Unsupported(
                $"'{dq.Name}' dequantizes with (scale {dqScale}, zero point {dqZeroPoint}), not the (scale {scale}, zero point {zeroPoint}) of '{q.Name}'");
        used.Add(q);
        used.Add(dq);
        return (scale, zeroPoint, q, dq);
    }

    // Per-tensor uint8 parameters of an activation Q or DQ node: one positive scale and a UInt8 zero point (or none).
    internal static (float Scale, byte ZeroPoint) ActivationParams(ModelGraph g, Node node)
    {
        var scale = Initializer(g, node, 1, "scale");
        if (scale.Size != 1 || !(scale.Data[0] > 0f)) throw Unsupported($"'{node.Name}' needs one positive activation scale (per tensor)");
        if (node.Inputs.Count < 3 || node.Inputs[2].Length == 0) return (scale.Data[0], 0);
        var zeroPoint = Initializer(g, node, 2, "zero point");
        var type = g.TypeOf(node.Inputs[2]);
        if (type != ElementType.UInt8) throw Unsupported($"'{node.Name}' quantizes to {type}; the integer engine takes uint8 activations");
        if (zeroPoint.Size != 1) throw Unsupported($"'{node.Name}' has {zeroPoint.Size} zero points; activations must be quantized per tensor");
        type.CheckValues(node.Inputs[2], zeroPoint.Data);
        return (scale.Data[0], (byte)zeroPoint.Data[0]);
    }

    /// <summary>
    /// The weight input of <paramref name="layer"/>: DequantizeLinear(W_q int8 or int4 of <paramref name="rank"/>, s_w, 0, axis = 0)
    /// read by this layer only, with per-tensor or per-output-channel positive scales; marks the layer and the DQ used.
    /// </summary>
    internal static QuantizedWeight ReadWeight(ModelGraph g, Node layer, int rank, HashSet<Node> used)
    {
        var wdq = layer.Inputs.Count > 1 ? g.Producer(layer.Inputs[1]) : null;
        if (wdq is not { OpType: OpTypes.DequantizeLinear } || !g.Initializers.ContainsKey(wdq.Inputs[0]))
            throw Unsupported($"layer '{layer.Name}' has a float weight; the integer engine needs DequantizeLinear(int8 weight)");
        if (g.Consumers(wdq.Outputs[0]).Count() != 1) throw Unsupported($"the dequantized weight '{wdq.Outputs[0]}' is shared by several nodes");
        used.Add(layer);
        used.Add(wdq);

        var w = g.Initializers[wdq.Inputs[0]];
        var weightType = g.TypeOf(wdq.Inputs[0]);
        if (weightType is not (ElementType.Int8 or ElementType.Int4) || w.Rank != rank)
            throw Unsupported($"layer '{layer.Name}': the weight '{wdq.Inputs[0]}' must be an Int8 (or Int4) initializer of rank {rank} " +
                $"(it is {weightType} {Shape.Format(w.Shape)})");
        weightType.CheckValues(wdq.Inputs[0], w.Data);   // int4 values run as int8
        int n = w.Shape[0], k = w.Size / n;
        if (k > PackedInt8Weights.MaxInFeatures)
            throw Unsupported($"layer '{layer.Name}' has {k} inputs per output; the int8 kernel takes at most {PackedInt8Weights.MaxInFeatures}");
        var ws = Initializer(g, wdq, 1, "weight scale");
        if (ws.Size != n && ws.Size != 1) throw Unsupported($"layer '{layer.Name}' has {ws.Size} weight scales for {n} output channels");
        if (ws.Size > 1 && wdq.Int("axis", 1) != 0)
            throw Unsupported($"layer '{layer.Name}': per-channel weight scales must run along axis 0 (output channels)");
        if (wdq.Int("block_size", 0) > 0) throw Unsupported($"layer '{layer.Name}' has block-wise weight scales");
        foreach (float s in ws.Data)
            if (!(s > 0f) || !float.IsFinite(s)) throw Unsupported($"layer '{layer.Name}' has weight scale {s}");
        if (wdq.Inputs.Count > 2 && wdq.Inputs[2].Length > 0 && Initializer(g, wdq, 2, "weight zero point").Data.Any(v => v != 0f))
            throw Unsupported($"layer '{layer.Name}' has nonzero weight zero points; the integer engine takes symmetric weights only");

        var values = new sbyte[w.Size];
        for (int i = 0; i < values.Length; i++) values[i] = (sbyte)w.Data[i];
        var scale = ws.Size == n ? (float[])ws.Data.Clone() : Enumerable.Repeat(ws.Data[0], n).ToArray();
        return new QuantizedWeight(values, w.Shape, scale);
    }

    /// <summary>The optional float bias (input 2) of <paramref name="layer"/> with <paramref name="n"/> values; zeros when absent.</summary>
    internal static float[] ReadBias(ModelGraph g, Node layer, int n)
    {
        var bias = new float[n];
        if (layer.Inputs.Count > 2 && layer.Inputs[2].Length > 0)
        {
            if (!g.Initializers.TryGetValue(layer.Inputs[2], out var b) || g.TypeOf(layer.Inputs[2]) != ElementType.Float32 || b.Size != n)
                throw Unsupported($"layer '{layer.Name}': the bias must be a float initializer with {n} values");
            b.Data.CopyTo(bias, 0);
        }
        return bias;
    }

    /// <summary>
    /// bias32, (multiplier, shift) to the next layer's input scale (none for the last layer) and the accumulator
    /// scale s_x·s_w[o] of a layer.
    /// </summary>
    internal static LayerConstants Constants(string layerName, float inputScale, float[] weightScale, float[] bias, float? nextInputScale)
    {
        int n = weightScale.Length;
        var bias32 = new int[n]; var multiplier = new int[n]; var shift = new int[n]; var outputScale = new float[n];
        for (int o = 0; o < n; o++)
        {
            double accScale = (double)inputScale * weightScale[o];
            double b = Math.Round(bias[o] / accScale, MidpointRounding.ToEven);
            if (!(Math.Abs(b) <= int.MaxValue))
                throw Unsupported($"layer '{layerName}': bias[{o}] = {bias[o]:G6} is {b:G3} steps of s_x·s_w = {accScale:G3}, beyond int32; " +
                    "the input or weight scale is too small");
            bias32[o] = (int)b;
            outputScale[o] = (float)accScale;
            if (nextInputScale is { } sy) Requantize.QuantizeMultiplier(accScale / sy, out multiplier[o], out shift[o]);
        }
        return new LayerConstants(bias32, multiplier, shift, outputScale);
    }
}
