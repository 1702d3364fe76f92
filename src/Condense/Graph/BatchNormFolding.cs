// Batch-norm folding (Jacob et al. 2018, §3.2; what PyTorch's fuse_conv_bn_eval and ONNX Runtime's
// ConvBNFusion do): in evaluation, BN(y) = γ·(y − mean)/√(var + ε) + β is an affine map per channel, so
// after a Conv or Linear (Gemm) it folds into that layer's weight and bias:
//   w'[o, …] = w[o, …] · γ[o]/√(var[o] + ε),   b'[o] = (b[o] − mean[o]) · γ[o]/√(var[o] + ε) + β[o].
// The folded graph computes the same function with one op fewer per layer; quantization folds first so
// that the quantized weight is the one inference uses.
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>One BatchNormalization folded into the layer before it.</summary>
public sealed record FoldedBatchNorm(string BatchNorm, string Layer, string Weight, string Bias);

/// <summary>A BatchNormalization left in place, and why.</summary>
public sealed record UnfoldedBatchNorm(string BatchNorm, string Reason);

/// <summary>What <see cref="BatchNormFolding.Fold"/> did.</summary>
public sealed record BatchNormFoldReport(IReadOnlyList<FoldedBatchNorm> Folded, IReadOnlyList<UnfoldedBatchNorm> Left);

/// <summary>Folds inference-mode BatchNormalization nodes into the preceding Conv or Gemm.</summary>
public static class BatchNormFolding
{
    /// <summary>
    /// A copy of <paramref name="model"/> (which is not changed) in which every BatchNormalization whose input
    /// is written by a Conv or Linear Gemm with constant weights, and read by nothing else, is folded into that
    /// layer. The result computes the same outputs in evaluation mode; it no longer has batch statistics to train.
    /// </summary>
    public static (GraphModule Model, BatchNormFoldReport Report) Fold(GraphModule model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph.Clone();
        // Folding rewrites the layer's weight and bias: one shared with another layer (exporters share equal tensors) is copied.
        SharedInitializers.Separate(graph, SharedInitializers.IsLayer);
        var folded = new List<FoldedBatchNorm>();
        var left = new List<UnfoldedBatchNorm>();
        foreach (var bn in graph.Nodes.Where(n => n.OpType == OpTypes.BatchNormalization).ToList())
        {
            string? reason = Check(graph, bn, out var layer);
            if (reason is not null) { left.Add(new UnfoldedBatchNorm(bn.Name, reason)); continue; }
            folded.Add(FoldInto(graph, bn, layer!));
        }
        RemoveUnread(graph, folded.SelectMany(f => model.Graph.Nodes.First(n => n.Name == f.BatchNorm).Inputs.Skip(1)));
        graph.Validate();
        return (new GraphModule(graph), new BatchNormFoldReport(folded, left));
    }

    // Why bn cannot be folded, or null (with the layer it folds into).
    private static string? Check(ModelGraph g, Node bn, out Node? layer)
    {
        layer = null;
        if (bn.Int("training_mode", 0) != 0) return "it runs in training mode (training_mode = 1)";
        if (bn.Outputs.Count > 1) return "it also outputs running statistics";
        for (int i = 1; i <= 4; i++)
            if (i >= bn.Inputs.Count || !g.Initializers.ContainsKey(bn.Inputs[i])) return $"its input {i} is not a constant initializer";
        string x = bn.Inputs[0];
        var producer = g.Producer(x);
        if (producer is null || producer.OpType is not (OpTypes.Conv or OpTypes.Gemm)) return $"its input is not written by a Conv or Gemm";
        if (g.Consumers(x).Count() != 1 || g.Outputs.Any(o => o.Name == x)) return $"the output of '{producer.Name}' has other consumers";
        if (producer.OpType == OpTypes.Gemm && (producer.Int("transA", 0) != 0 || producer.Float("alpha", 1f) != 1f || producer.Float("beta", 1f) != 1f))
            return $"'{producer.Name}' is not a Linear Gemm (transA = 0, alpha = beta = 1)";
        if (producer.Inputs.Count < 2 || !g.Initializers.ContainsKey(producer.Inputs[1]) || g.TypeOf(producer.Inputs[1]) != ElementType.Float32)
            return $"the weight of '{producer.Name}' is not a float initializer";
        string w = producer.Inputs[1];
        if (producer.Inputs.Count > 2 && producer.Inputs[2].Length > 0 && !g.Initializers.ContainsKey(producer.Inputs[2]))
            return $"the bias of '{producer.Name}' is not an initializer";
        int channels = g.Initializers[bn.Inputs[1]].Size;
        int outputs = OutputChannels(producer, g.Initializers[w]);
        if (outputs != channels) return $"it has {channels} channels, '{producer.Name}' has {outputs} outputs";
        layer = producer;
        return null;
    }

    // Conv weight (M, C/g, kH, kW): M; Gemm with transB = 1: [out, in]; transB = 0: [in, out].
    private static int OutputChannels(Node layer, Tensor weight) =>
        layer.OpType == OpTypes.Gemm && layer.Int("transB", 0) == 0 ? weight.Shape[^1] : weight.Shape[0];

    private static FoldedBatchNorm FoldInto(ModelGraph g, Node bn, Node layer)
    {
        var (gamma, beta, mean, variance) =
            (g.Initializers[bn.Inputs[1]], g.Initializers[bn.Inputs[2]], g.Initializers[bn.Inputs[3]], g.Initializers[bn.Inputs[4]]);
        double eps = bn.Float("epsilon", 1e-5f);
        int channels = gamma.Size;
        var factor = new double[channels];
        for (int o = 0; o < channels; o++) factor[o] = gamma.Data[o] / Math.Sqrt(variance.Data[o] + eps);

        string w = layer.Inputs[1];
        var weight = g.Initializers[w];
        var scaled = weight.Clone();
        bool columns = layer.OpType == OpTypes.Gemm && layer.Int("transB", 0) == 0;   // weight [in, out]: scale columns
        int inner = columns ? 1 : weight.Size / channels;
        for (int i = 0; i < scaled.Size; i++)
        {
            int o = columns ? i % channels : i / inner;
            scaled.Data[i] = (float)(weight.Data[i] * factor[o]);
        }
        g.Initializers[w] = scaled;

        bool hasBias = layer.Inputs.Count > 2 && layer.Inputs[2].Length > 0;
        string b = hasBias ? layer.Inputs[2] : FreshBiasName(g, w);
        var bias = new float[channels];
        for (int o = 0; o < channels; o++)
        {
            double old = hasBias ? g.Initializers[b].Data[o] : 0;
            bias[o] = (float)((old - mean.Data[o]) * factor[o] + beta.Data[o]);
        }
        g.Initializers[b] = new Tensor(bias, [channels]);
        if (g.Trainable.Contains(w)) g.Trainable.Add(b);
        while (layer.Inputs.Count < 3) layer.Inputs.Add("");
        layer.Inputs[2] = b;

        layer.Outputs[0] = bn.Outputs[0];
        g.Nodes.Remove(bn);
        return new FoldedBatchNorm(bn.Name, layer.Name, w, b);
    }

    // "conv1.weight" → "conv1.bias"; otherwise "<weight>.bias", made unique.
    internal static string FreshBiasName(ModelGraph g, string weight)
    {
        string name = weight.EndsWith(".weight", StringComparison.Ordinal) ? weight[..^".weight".Length] + ".bias" : weight + ".bias";
        string unique = name;
        for (int i = 1; g.Initializers.ContainsKey(unique); i++) unique = $"{name}_{i}";
        return unique;
    }

    // The folded BNs' parameters and statistics, unless another node still reads them.
    private static void RemoveUnread(ModelGraph g, IEnumerable<string> candidates)
    {
        var read = g.Nodes.SelectMany(n => n.Inputs).ToHashSet();
        foreach (var name in candidates.Where(k => !read.Contains(k)).Distinct().ToList())
        {
            g.Initializers.Remove(name);
            g.Trainable.Remove(name);
            g.ElementTypes.Remove(name);
        }
    }
}
