// AdaRound against its definition (Nagel et al. 2020): the written-out gradient of the objective matches finite differences,
// the objective falls while the regulariser anneals, every code is ⌊W/s⌋ or ⌊W/s⌋ + 1, and the layer's reconstruction error
// ‖(W̃ − W)x‖² is below round-to-nearest's on its calibration inputs and on fresh inputs alike; through the quantizer, a 4-bit
// CNN (depthwise included) and MLP get codes of that form and outputs closer to the float model's.
using Condense.Autograd;
using Condense.Graph;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public sealed class AdaRoundTests
{
    private static readonly QuantRange Int4 = QuantRange.Restricted(4);

    // Correlated inputs: rows of Z mixed by a random matrix, shifted off zero (post-ReLU-like).
    private static Tensor Inputs(int rows, int features, ulong seed) =>
        Tensor.Uniform(new Rng(seed), 0, 1, rows, features).MatMul(Tensor.Uniform(new Rng(99), -0.5f, 1, features, features));

    private static float[] RowScales(Tensor weight, QuantRange range) =>
        [.. AffineQuantizer.PerChannel(weight, 0, range, symmetric: true).Select(p => p.Scale)];

    [Fact]
    public void TheGradientMatchesFiniteDifferences()
    {
        // 37 columns: the vector loop (8 or 16 lanes) and the scalar tail of every row both run.
        var weight = Tensor.Uniform(new Rng(1), -1, 1, 3, 37);
        var x = Inputs(7, 37, 2);
        var layer = new AdaRound.Layer(weight, RowScales(weight, Int4), Int4);
        var v = Tensor.Uniform(new Rng(3), -1.5f, 1.5f, 3, 37).Data;
        foreach (double beta in new[] { 0.0, 4.0 })
        {
            var gradient = layer.Step(v, x, beta, 0.05).Gradient.Data.ToArray();
            for (int i = 0; i < v.Length; i++)
            {
                float keep = v[i], h = 1e-2f;
                v[i] = keep + h;
                double up = layer.Step(v, x, beta, 0.05).Loss;
                v[i] = keep - h;
                double down = layer.Step(v, x, beta, 0.05).Loss;
                v[i] = keep;
                double numeric = (up - down) / (2 * h);
                Assert.True(Math.Abs(numeric - gradient[i]) <= 2e-3 + 0.02 * Math.Abs(numeric), $"β {beta}, V[{i}]: {gradient[i]:G5} vs {numeric:G5}");
            }
        }
    }

    [Fact]
    public void CodesRoundUpOrDownAndReconstructBetterThanRoundToNearest()
    {
        var weight = Tensor.Uniform(new Rng(11), -1, 1, 16, 48);
        var x = Inputs(512, 48, 12);
        var scales = RowScales(weight, Int4);
        var result = AdaRound.Round(weight, scales, Int4, x, new AdaRoundOptions { Iterations = 1000, BatchRows = 512 });

        for (int i = 0; i < weight.Size; i++)
        {
            float floor = MathF.Floor(weight.Data[i] / scales[i / 48]);
            Assert.True(result.Codes.Data[i] == floor || result.Codes.Data[i] == floor + 1, $"code {result.Codes.Data[i]} for W/s ⌊⌋ = {floor}");
        }
        Assert.True(result.Error < 0.7 * result.RoundToNearestError, $"AdaRound {result.Error:G4} vs round-to-nearest {result.RoundToNearestError:G4}");
        Assert.NotEqual(RoundToNearest(weight, scales), result.Codes.Data);

        // The objective falls once the regulariser is on (β annealed 20 → 2), and the codes hold on inputs never seen.
        int warmUp = 200;
        Assert.True(result.Objective[^1] < 0.5 * result.Objective[warmUp], $"objective {result.Objective[warmUp]:G4} → {result.Objective[^1]:G4}");
        var fresh = Inputs(512, 48, 13);
        double adaRound = Error(weight, Dequantize(result.Codes.Data, scales, 48), fresh);
        double nearest = Error(weight, Dequantize(RoundToNearest(weight, scales), scales, 48), fresh);
        Assert.True(adaRound < 0.7 * nearest, $"on fresh inputs: AdaRound {adaRound:G4}, round-to-nearest {nearest:G4}");
    }

    [Fact]
    public void TheSameSeedGivesTheSameCodes()
    {
        var weight = Tensor.Uniform(new Rng(21), -1, 1, 8, 20);
        var x = Inputs(300, 20, 22);
        var options = new AdaRoundOptions { Iterations = 200, BatchRows = 64, Seed = 5 };
        var a = AdaRound.Round(weight, RowScales(weight, Int4), Int4, x, options);
        var b = AdaRound.Round(weight, RowScales(weight, Int4), Int4, x, options);
        Assert.Equal(a.Codes.Data, b.Codes.Data);
        Assert.Equal(a.Objective, b.Objective);
    }

    [Theory]
    [InlineData("cnn")]
    [InlineData("mlp")]
    public void TheQuantizerStoresAdaRoundsCodesAndGetsCloserToTheFloatModel(string model)
    {
        var graph = model == "cnn" ? BiasCorrectionTests.Cnn(4) : BiasCorrectionTests.Mlp(4);
        int[] sample = model == "cnn" ? [3, 10, 10] : [24];
        var batches = BiasCorrectionTests.Batches(40, 16, sample);
        var options = new QuantizeOptions { WeightBits = 4, Mode = QuantizationMode.WeightOnly };
        var (plain, _) = Quantizer.Quantize(new GraphModule(graph), options, batches);
        var (rounded, _) = Quantizer.Quantize(new GraphModule(graph), options with { AdaRound = true }, batches);

        foreach (var node in graph.Nodes.Where(n => n.Inputs.Count > 1 && graph.Trainable.Contains(n.Inputs[1])))
        {
            string w = node.Inputs[1];
            var codes = rounded.Graph.Initializers[w + ".quantized"].Data;
            var scales = rounded.Graph.Initializers[w + ".scale"].Data;
            var weight = graph.Initializers[w];
            int axis = node.OpType == OpTypes.MatMul || (node.OpType == OpTypes.Gemm && node.Int("transB", 0) == 0) ? 1 : 0;
            for (int i = 0; i < weight.Size; i++)
            {
                int channel = axis == 0 ? i / (weight.Size / weight.Shape[0]) : i % weight.Shape[1];
                float floor = MathF.Floor(weight.Data[i] / scales[channel]);
                Assert.True(codes[i] == floor || codes[i] == floor + 1, $"{w}[{i}]: code {codes[i]}, ⌊W/s⌋ {floor}");
            }
        }
        var held = BiasCorrectionTests.Calibration(BiasCorrectionTests.Batches(80, 8, sample));
        Assert.True(OutputError(graph, rounded.Graph, held) < OutputError(graph, plain.Graph, held), "AdaRound's model is not closer to the float one");
    }

    private static double OutputError(ModelGraph floatGraph, ModelGraph quantized, Tensor x)
    {
        using var _ = GradMode.NoGrad();
        var a = new GraphModule(floatGraph).Forward(x).Data;
        var b = new GraphModule(quantized).Forward(x).Data;
        return a.Zip(b, (u, v) => (double)(u - v) * (u - v)).Sum();
    }

    private static float[] RoundToNearest(Tensor weight, float[] scales) =>
        [.. weight.Data.Select((w, i) => Math.Clamp(MathF.Round(w / scales[i / weight.Shape[1]], MidpointRounding.ToEven), -7, 7))];

    private static float[] Dequantize(float[] codes, float[] scales, int columns) => [.. codes.Select((q, i) => q * scales[i / columns])];

    private static double Error(Tensor weight, float[] dequantized, Tensor x)
    {
        var delta = new Tensor([.. dequantized.Select((w, i) => w - weight.Data[i])], weight.Shape);
        return Tensor.Gemm(x, delta, null, transB: true).Data.Sum(e => (double)e * e);
    }
}
