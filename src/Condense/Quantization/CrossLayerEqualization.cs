// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias Correction",
// §4.1): for y = W2·f(W1·x + b1) with f positively homogeneous (ReLU, LeakyReLU, PReLU with one slope, or no f),
// f(x/s) = f(x)/s for s > 0, so dividing output channel i of W1 and b1_i by s_i and multiplying input channel i of W2 by
// s_i keeps the function. With r1_i the range of W1's output channel i and r2_i that of W2's input channel i, the paper's
// choice s_i = (1/r2_i)·√(r1_i·r2_i) (eq. 10) makes both ranges √(r1_i·r2_i), which maximises the product of the channels'
// shares of their tensors' ranges, so per-tensor quantization wastes fewer levels on small channels. A depthwise layer's
// input channel i is its output channel i, so a chain through one moves the same weights twice: the pass sweeps all pairs
// until the scales settle (§4.1, "we iterate this process ... until convergence"). Run on a batch-norm-folded float graph.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>Two layers equalized: <paramref name="First"/>'s output channels against <paramref name="Second"/>'s input channels.</summary>
/// <param name="First">The layer whose output channels were divided by the scales.</param>
/// <param name="Second">The layer whose input channels were multiplied by them.</param>
/// <param name="Activation">The op between them (Relu, LeakyRelu, PRelu), or null when there is none.</param>
/// <param name="Channels">The number of channels equalized.</param>
public sealed record EqualizedPair(string First, string Second, string? Activation, int Channels);

/// <summary>A Conv or Gemm layer whose output was not equalized with a next layer, and why.</summary>
public sealed record SkippedPair(string Layer, string Reason);

/// <summary>What <see cref="CrossLayerEqualization.Apply"/> did: the pairs, the layers left alone, the sweeps until the scales settled.</summary>
public sealed record EqualizationReport(IReadOnlyList<EqualizedPair> Equalized, IReadOnlyList<SkippedPair> Skipped, int Sweeps);

/// <summary>Cross-layer equalization of consecutive Conv/Gemm layers.</summary>
public static class CrossLayerEqualization
{
    /// <summary>
    /// A copy of <paramref name="graph"/> (which is not changed) computing the same function, in which each Conv/Gemm whose
    /// output (through at most one Relu, LeakyRelu or scalar-slope PRelu) is read only by another Conv/Gemm has its output
    /// channels equalized with that layer's input channels. Sweeps all pairs until every scale is within
    /// <paramref name="tolerance"/> of 1, at most <paramref name="maxSweeps"/> times.
    /// </summary>
    public static (ModelGraph Graph, EqualizationReport Report) Apply(ModelGraph graph, int maxSweeps = 50, double tolerance = 1e-4)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (maxSweeps < 1) throw new CondenseException($"cross-layer equalization needs at least one sweep, got {maxSweeps}");
        var g = graph.Clone();
        // Equalization rescales each layer's own weight and bias: shared ones are copied first.
        SharedInitializers.Separate(g, SharedInitializers.IsLayer);
        var pairs = new List<(Node First, Node Second, Node? Activation)>();
        var skipped = new List<SkippedPair>();
        foreach (var layer in g.Nodes.Where(n => n.OpType is OpTypes.Conv or OpTypes.Gemm))
        {
            string? reason = FindPair(g, layer, out var second, out var activation);
            if (reason is null) pairs.Add((layer, second!, activation));
            else skipped.Add(new SkippedPair(layer.Name, reason));
        }
        int sweeps = 0;
        double change = double.PositiveInfinity;
        while (pairs.Count > 0 && sweeps < maxSweeps && change > tolerance)
        {
            change = pairs.Max(p => Equalize(g, p.First, p.Second));
            sweeps++;
        }
        var equalized = pairs.Select(p => new EqualizedPair(p.First.Name, p.Second.Name, p.Activation?.OpType,
            OutputChannels(p.First, g.Initializers[p.First.Inputs[1]].Shape))).ToList();
        return (g, new EqualizationReport(equalized, skipped, sweeps));
    }

    /// <summary>
    /// The equalizing scales of one pair: s_i = (1/r2_i)·√(r1_i·r2_i) from the ranges (largest |w|) of the first layer's
    /// output channels and of the second layer's input channels; 1 where either range is zero.
    /// </summary>
    public static double[] Scales(IReadOnlyList<double> firstRanges, IReadOnlyList<double> secondRanges)
    {
        if (firstRanges.Count != secondRanges.Count)
            throw new CondenseException($"cross-layer equalization: {firstRanges.Count} output channels for {secondRanges.Count} input channels");
        return [.. firstRanges.Select((r1, i) =>
        {
            double r2 = secondRanges[i];
            return r1 > 0 && r2 > 0 && double.IsFinite(r1 * r2) ? Math.Sqrt(r1 * r2) / r2 : 1.0;
        })];
    }

    /// <summary>The largest |w| of each output channel of a Conv or Gemm weight.</summary>
    public static double[] OutputRanges(Node layer, Tensor weight) =>
        [.. Enumerable.Range(0, OutputChannels(layer, weight.Shape)).Select(o => Range(weight, OutputRuns(layer, weight.Shape, o)))];

    /// <summary>The largest |w| of each input channel of a Conv (any group count) or Gemm weight.</summary>
    public static double[] InputRanges(Node layer, Tensor weight) =>
        [.. Enumerable.Range(0, InputChannels(layer, weight.Shape)).Select(i => Range(weight, InputRuns(layer, weight.Shape, i)))];

    // One rescaling of a pair; returns the largest |s_i − 1|, how far it moved.
    private static double Equalize(ModelGraph g, Node first, Node second)
    {
        var w1 = g.Initializers[first.Inputs[1]];
        var w2 = g.Initializers[second.Inputs[1]];
        var s = Scales(OutputRanges(first, w1), InputRanges(second, w2));
        var bias = first.Inputs.Count > 2 && first.Inputs[2].Length > 0 ? g.Initializers[first.Inputs[2]] : null;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == 1) continue;
            foreach (var (start, length, stride) in OutputRuns(first, w1.Shape, i)) Multiply(w1.Data, start, length, stride, 1 / s[i]);
            if (bias is not null) bias.Data[i] = (float)(bias.Data[i] / s[i]);
            foreach (var (start, length, stride) in InputRuns(second, w2.Shape, i)) Multiply(w2.Data, start, length, stride, s[i]);
        }
        return s.Length == 0 ? 0 : s.Max(v => Math.Abs(v - 1));
    }

    // Why layer cannot be the first of a pair, or null (with the next layer and the activation between them).
    private static string? FindPair(ModelGraph g, Node layer, out Node? second, out Node? activation)
    {
        second = activation = null;
        if (CheckLayer(g, layer) is { } bad) return bad;
        string value = layer.Outputs[0];
        if (SoleReader(g, value, out var next) is { } fanOut) return $"its output {fanOut}";
        if (next!.OpType is OpTypes.Relu or OpTypes.LeakyRelu or OpTypes.PRelu or OpTypes.Clip)
        {
            activation = next;
            if (SoleReader(g, next.Outputs[0], out next) is { } activationFanOut) return $"the output of its {activation.OpType} {activationFanOut}";
            if (activation.OpType == OpTypes.Clip)
                return $"Clip between it and '{next!.Name}': clamping at a fixed bound is not positively homogeneous per channel";
            if (activation.OpType == OpTypes.PRelu && !ScalarSlope(g, activation))
                return $"the PRelu after it has no scalar constant slope";
        }
        if (next!.OpType is not (OpTypes.Conv or OpTypes.Gemm))
            return $"{(activation is null ? "its output" : "its " + activation.OpType)} is read by {next.OpType} '{next.Name}', not a Conv or Gemm";
        if (next.Inputs[0] != (activation ?? layer).Outputs[0]) return $"'{next.Name}' reads it as a weight, not as its input";
        if (CheckLayer(g, next) is { } badNext) return $"the next layer '{next.Name}': {badNext}";
        int channels = OutputChannels(layer, g.Initializers[layer.Inputs[1]].Shape);
        int inputs = InputChannels(next, g.Initializers[next.Inputs[1]].Shape);
        if (channels != inputs) return $"it has {channels} output channels, '{next.Name}' {inputs} input channels";
        second = next;
        return null;
    }

    // Why a layer's weight and bias cannot be rescaled, or null.
    private static string? CheckLayer(ModelGraph g, Node layer)
    {
        if (layer.OpType == OpTypes.Gemm && layer.Int("transA", 0) != 0) return "it is a Gemm with transA = 1";
        if (layer.Inputs.Count < 2 || !g.Initializers.TryGetValue(layer.Inputs[1], out var weight) || g.TypeOf(layer.Inputs[1]) != ElementType.Float32)
            return "its weight is not a float initializer";
        if (layer.OpType == OpTypes.Gemm ? weight.Rank != 2 : weight.Rank < 3) return "its weight has an unexpected shape";
        if (g.Nodes.Count(n => n.Inputs.Contains(layer.Inputs[1])) != 1) return $"its weight '{layer.Inputs[1]}' is shared";
        if (layer.Inputs.Count > 2 && layer.Inputs[2].Length > 0)
        {
            string b = layer.Inputs[2];
            if (!g.Initializers.TryGetValue(b, out var bias) || g.TypeOf(b) != ElementType.Float32) return "its bias is not a float initializer";
            if (bias.Size != OutputChannels(layer, weight.Shape)) return $"its bias has {bias.Size} values, not one per output channel";
            if (g.Nodes.Count(n => n.Inputs.Contains(b)) != 1) return $"its bias '{b}' is shared";
        }
        return null;
    }

    // Why value is not read by exactly one node (as a graph output too), or null with that node.
    private static string? SoleReader(ModelGraph g, string value, out Node? reader)
    {
        var readers = g.Consumers(value).ToList();
        reader = readers.Count == 1 ? readers[0] : null;
        if (g.Outputs.Any(o => o.Name == value)) return "is a graph output";
        return readers.Count switch
        {
            0 => "is not read",
            1 => null,
            _ => $"is read by {readers.Count} nodes ({string.Join(", ", readers.Select(r => r.OpType))}: fan-out)",
        };
    }

    private static bool ScalarSlope(ModelGraph g, Node prelu) =>
        prelu.Inputs.Count > 1 && g.Initializers.TryGetValue(prelu.Inputs[1], out var slope) && slope.Size == 1;

    // Conv weight (M, C/group, k…): M outputs, C inputs; Gemm weight [out, in] with transB = 1, [in, out] without.
    private static int OutputChannels(Node layer, int[] shape) => layer.OpType == OpTypes.Gemm && layer.Int("transB", 0) == 0 ? shape[1] : shape[0];

    private static int InputChannels(Node layer, int[] shape) => layer.OpType switch
    {
        OpTypes.Gemm => layer.Int("transB", 0) != 0 ? shape[1] : shape[0],
        _ => shape[1] * (int)layer.Int("group", 1),
    };

    // The elements of output channel o as runs: elements start + k·stride for k < length.
    private static IEnumerable<(int Start, int Length, int Stride)> OutputRuns(Node layer, int[] shape, int o)
    {
        if (layer.OpType == OpTypes.Gemm && layer.Int("transB", 0) == 0) return [(o, shape[0], shape[1])];   // column o of [in, out]
        int inner = Shape.Size(shape) / shape[0];
        return [(o * inner, inner, 1)];
    }

    // The elements of input channel i. A Conv of G groups: channel i belongs to group i / (C/G) and is position i mod (C/G)
    // of that group's outputs' kernels; a depthwise Conv (C/G = 1) has exactly one output channel per input channel.
    private static IEnumerable<(int Start, int Length, int Stride)> InputRuns(Node layer, int[] shape, int i)
    {
        if (layer.OpType == OpTypes.Gemm)
            return layer.Int("transB", 0) != 0 ? [(i, shape[0], shape[1])] : [(i * shape[1], shape[1], 1)];
        int groups = (int)layer.Int("group", 1), perGroup = shape[1], outputsPerGroup = shape[0] / groups;
        int kernel = Shape.Size(shape) / (shape[0] * shape[1]), group = i / perGroup, j = i % perGroup;
        return Enumerable.Range(group * outputsPerGroup, outputsPerGroup).Select(o => ((o * perGroup + j) * kernel, kernel, 1));
    }

    private static double Range(Tensor weight, IEnumerable<(int Start, int Length, int Stride)> runs)
    {
        double max = 0;
        foreach (var (start, length, stride) in runs)
            for (int k = 0; k < length; k++) max = Math.Max(max, Math.Abs(weight.Data[start + k * stride]));
        return max;
    }

    private static void Multiply(float[] data, int start, int length, int stride, double factor)
    {
        for (int k = 0; k < length; k++) data[start + k * stride] = (float)(data[start + k * stride] * factor);
    }
}
