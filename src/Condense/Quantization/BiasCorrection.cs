// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias Correction",
// §4.2): a quantized weight W̃ = W + ε shifts the layer's expected output by E[W̃x] − E[Wx] = ε·E[x], per output channel, an
// error the rounding does not average away; subtracting it from the bias removes it (eq. 12–13). The paper takes E[x] from
// the previous batch norm (data-free) or from data; we take it from the calibration data, the float model's inputs of each
// layer, in one pass (static mode's calibration pass, no extra one). For a Conv, by linearity, the mean output error over
// every image and position is conv(ε, Σ_images x) summed over positions, divided by images × positions: exact, the padding
// included, where a per-channel E[x] would miss the border. The fully empirical variant (run the quantized model, correct a
// layer, run again for the next) would also absorb activation quantization and upstream errors, but costs a pass over the
// data per layer (21 for ResNet-18); the weight's shift is the systematic part, and every layer removes its own at source.
using Condense.Autograd;
using Condense.Calibration;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>A layer whose bias absorbed the expected output shift of its quantized weight.</summary>
/// <param name="Layer">The layer's node.</param>
/// <param name="Bias">The bias initializer corrected (created, named after the weight, when the layer had none).</param>
/// <param name="MaxCorrection">The largest |shift| subtracted from one channel.</param>
public sealed record CorrectedBias(string Layer, string Bias, float MaxCorrection);

/// <summary>Empirical bias correction of a quantized graph.</summary>
public static class BiasCorrection
{
    /// <summary>
    /// A copy of <paramref name="quantized"/> (which is not changed) in which every Conv, Gemm and MatMul whose weight is an integer
    /// initializer behind DequantizeLinear has the expected shift (W̃ − W)·E[x] of its output subtracted from its bias, E[x] from
    /// one pass of <paramref name="floatModel"/> — the model whose weights were quantized (its batch norms are folded first, as
    /// the quantizer does) — over <paramref name="calibration"/>.
    /// </summary>
    public static (GraphModule Model, IReadOnlyList<CorrectedBias> Corrected) Apply(GraphModule floatModel, GraphModule quantized,
        IEnumerable<IReadOnlyDictionary<string, Tensor>> calibration)
    {
        ArgumentNullException.ThrowIfNull(floatModel);
        ArgumentNullException.ThrowIfNull(quantized);
        if (floatModel.Graph.Nodes.Any(n => n.OpType == OpTypes.BatchNormalization)) floatModel = BatchNormFolding.Fold(floatModel).Model;
        var graph = quantized.Graph.Clone();
        var names = graph.Nodes.Where(n => Dequantized(graph, n) is not null).Select(n => n.Name).ToHashSet();
        var layers = floatModel.Graph.Nodes.Where(n => names.Contains(n.Name)).ToList();
        var sums = new LayerInputSums(layers);
        LayerInputs.Visit(floatModel, calibration, layers, sums.Add);
        var corrected = Correct(graph, floatModel.Graph, sums);
        graph.Validate();
        return (new GraphModule(graph), corrected);
    }

    /// <summary>Corrects the biases of <paramref name="quantized"/> in place from the float <paramref name="source"/> graph and the input sums.</summary>
    internal static List<CorrectedBias> Correct(ModelGraph quantized, ModelGraph source, LayerInputSums sums)
    {
        var corrected = new List<CorrectedBias>();
        using var _ = GradMode.NoGrad();
        foreach (var node in quantized.Nodes.ToList())
        {
            var original = source.Nodes.FirstOrDefault(n => n.Name == node.Name && n.OpType == node.OpType);
            if (Dequantized(quantized, node) is not { } weight || original is null || sums.For(original.Name) is not { } sum) continue;
            if (!source.Initializers.TryGetValue(original.Inputs[1], out var floatWeight) || !Shape.Equal(floatWeight.Shape, weight.Shape)) continue;
            var shift = Shift(node, weight.Sub(floatWeight), sum);
            float beta = node.OpType == OpTypes.Gemm ? node.Float("beta", 1f) : 1f;
            if (beta == 0f) continue;
            string w = original.Inputs[1];
            string? bias = SubtractFromBias(quantized, node, w, [.. shift.Select(v => v / beta)], source.Trainable.Contains(w));
            if (bias is not null) corrected.Add(new CorrectedBias(node.Name, bias, (float)shift.Max(Math.Abs)));
        }
        return corrected;
    }

    // W̃ of a layer whose weight is DequantizeLinear(integer initializer, …), or null.
    private static Tensor? Dequantized(ModelGraph g, Node node)
    {
        if (node.OpType is not (OpTypes.Conv or OpTypes.Gemm or OpTypes.MatMul) || node.Inputs.Count < 2) return null;
        if (g.Producer(node.Inputs[1]) is not { OpType: OpTypes.DequantizeLinear } dq || !g.Initializers.TryGetValue(dq.Inputs[0], out var q)) return null;
        if (!g.Initializers.TryGetValue(dq.Inputs[1], out var scale)) return null;
        var zeroPoint = dq.Inputs.Count > 2 && dq.Inputs[2].Length > 0 ? g.Initializers.GetValueOrDefault(dq.Inputs[2]) : null;
        int axis = (int)dq.Int("axis", 1), blockSize = (int)dq.Int("block_size", 0);
        using var _ = GradMode.NoGrad();
        return blockSize > 0 ? q.DequantizeLinearBlocked(scale, zeroPoint, axis, blockSize) : q.DequantizeLinear(scale, zeroPoint, axis);
    }

    // The mean shift of each output channel over every sample and position: the layer with weight ε applied to the input sums.
    private static double[] Shift(Node node, Tensor epsilon, InputSums sums)
    {
        double[]? total = null;
        double count = 0;
        foreach (var (sum, samples) in sums.Sums())
        {
            Tensor y = node.OpType switch
            {
                OpTypes.Conv => GraphOps.Conv(node, [sum, epsilon, null]),                                   // (1, M, positions…)
                OpTypes.Gemm => Tensor.Gemm(sum, epsilon, null, node.Float("alpha", 1f), transB: node.Int("transB", 0) != 0),
                _ => sum.MatMul(epsilon),                                                                 // x·W, W [in, out]
            };
            int channels = node.OpType == OpTypes.Conv ? y.Shape[1] : y.Shape[^1], positions = y.Size / channels;
            total ??= new double[channels];
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < positions; p++) total[c] += node.OpType == OpTypes.Conv ? y.Data[c * positions + p] : y.Data[p * channels + c];
            count += (double)samples * (node.OpType == OpTypes.Conv ? positions : 1);
        }
        return total is null || count == 0 ? [] : [.. total.Select(t => t / count)];
    }

    // b −= shift on the layer's bias (a Conv's or Gemm's, or the Add after a MatMul); creates one named after the weight when there
    // is none. Returns the bias's name, or null when the existing bias cannot take a per-channel correction.
    private static string? SubtractFromBias(ModelGraph g, Node node, string weight, double[] shift, bool trainable)
    {
        if (shift.Length == 0) return null;
        if (node.OpType == OpTypes.MatMul) return SubtractAfterMatMul(g, node, weight, shift, trainable);
        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
        {
            string b = node.Inputs[2];
            if (!g.Initializers.TryGetValue(b, out var bias) || g.TypeOf(b) != ElementType.Float32 || (bias.Size != shift.Length && bias.Size != 1)
                || g.Nodes.Count(n => n.Inputs.Contains(b)) != 1) return null;
            g.Initializers[b] = Subtracted(bias, shift, bias.Size == 1 ? [shift.Length] : bias.Shape);
            return b;
        }
        string name = BatchNormFolding.FreshBiasName(g, weight);
        g.Initializers[name] = Subtracted(null, shift, [shift.Length]);
        if (trainable) g.Trainable.Add(name);
        while (node.Inputs.Count < 3) node.Inputs.Add("");
        node.Inputs[2] = name;
        return name;
    }

    // A MatMul has no bias input: the Add after it takes the correction when it adds a per-channel constant read by nothing else,
    // otherwise a new Add (bias named after the weight) follows the MatMul and writes its output.
    private static string SubtractAfterMatMul(ModelGraph g, Node matMul, string weight, double[] shift, bool trainable)
    {
        string y = matMul.Outputs[0];
        var readers = g.Consumers(y).ToList();
        if (readers is [{ OpType: OpTypes.Add } add] && g.Outputs.All(o => o.Name != y) && add.Inputs.FirstOrDefault(i => i != y) is { } b
            && g.Initializers.TryGetValue(b, out var bias) && g.TypeOf(b) == ElementType.Float32 && bias.Size == shift.Length
            && bias.Shape[^1] == shift.Length && g.Nodes.Count(n => n.Inputs.Contains(b)) == 1)
        {
            g.Initializers[b] = Subtracted(bias, shift, bias.Shape);
            return b;
        }
        string name = BatchNormFolding.FreshBiasName(g, weight), product = matMul.Name + "/bias_correction_input";
        g.Initializers[name] = Subtracted(null, shift, [shift.Length]);
        if (trainable) g.Trainable.Add(name);
        matMul.Outputs[0] = product;
        g.Nodes.Insert(g.Nodes.IndexOf(matMul) + 1, new Node(matMul.Name + "/bias_correction", OpTypes.Add, [product, name], [y]));
        return name;
    }

    private static Tensor Subtracted(Tensor? bias, double[] shift, int[] shape) =>
        new([.. shift.Select((s, c) => (float)((bias is null ? 0 : bias.Data[bias.Size == 1 ? 0 : c]) - s))], shape);
}
