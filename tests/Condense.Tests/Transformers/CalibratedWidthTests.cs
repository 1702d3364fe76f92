// Heads and neurons chosen on calibration data with the reading layer refitted (structured OBS): the greedy choice and
// the refitted weights equal a naive search that solves the least-squares problem of every candidate kept set from
// scratch (with and without a bias, groups of 1 and of 2); on a tiny BERT the refitted output projection reproduces the
// original's output on the calibration data better than cutting the same heads does, and the narrower model runs in
// ONNX Runtime as in Condense.
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Transformers;

public class CalibratedWidthTests
{
    [Theory]
    [InlineData(8, 2, 2, true)]
    [InlineData(6, 1, 3, true)]
    [InlineData(6, 1, 2, false)]
    [InlineData(9, 3, 1, true)]
    public void GreedyRemovalAndRefitMatchANaiveLeastSquaresSearch(int inputs, int groupSize, int count, bool withBias)
    {
        const int outputs = 3, rows = 40;
        const double dampening = 0.01;
        var rng = new Rng(11);
        // Correlated inputs with non-zero means, so that the choice and the bias both matter.
        var x = new double[rows * inputs];
        for (int r = 0; r < rows; r++)
        {
            double shared = rng.NextNormal();
            for (int i = 0; i < inputs; i++) x[r * inputs + i] = 0.3 * i + rng.NextNormal() + (i % 3 == 0 ? shared : 0);
        }
        var weight = Enumerable.Range(0, inputs * outputs).Select(_ => (double)rng.NextNormal()).ToArray();
        double[]? bias = withBias ? [0.5, -1, 2] : null;
        var hessian = new double[inputs * inputs];
        var mean = new double[inputs];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < inputs; i++)
            {
                mean[i] += x[r * inputs + i] / rows;
                for (int j = 0; j < inputs; j++) hessian[i * inputs + j] += 2.0 / rows * x[r * inputs + i] * x[r * inputs + j];
            }

        // The naive reference: the augmented, damped H̃ and, for each candidate, the least-squares optimum on the kept rows.
        int n = inputs + (withBias ? 1 : 0);
        var h = new double[n, n];
        for (int i = 0; i < inputs; i++)
            for (int j = 0; j < inputs; j++) h[i, j] = hessian[i * inputs + j];
        if (withBias)
        {
            for (int i = 0; i < inputs; i++) h[i, inputs] = h[inputs, i] = 2 * mean[i];
            h[inputs, inputs] = 2;
        }
        double damp = dampening * Enumerable.Range(0, n).Sum(i => h[i, i]) / n;
        for (int i = 0; i < n; i++) h[i, i] += damp;
        var full = new double[n, outputs];
        for (int i = 0; i < inputs; i++)
            for (int o = 0; o < outputs; o++) full[i, o] = weight[i * outputs + o];
        if (withBias) for (int o = 0; o < outputs; o++) full[inputs, o] = bias![o];

        var alive = Enumerable.Range(0, inputs / groupSize).ToList();
        double[,] best = full;
        for (int step = 0; step < count; step++)
        {
            var options = alive.Select(g => (Group: g, Fit: Refit(h, full, Kept(alive.Where(a => a != g), groupSize, inputs, withBias))))
                .Select(c => (c.Group, c.Fit, Error: Objective(h, full, c.Fit))).OrderBy(c => c.Error).ToList();
            Assert.True(options.Count < 2 || options[1].Error - options[0].Error > 1e-9, "the naive search has a tie; change the seed");
            alive.Remove(options[0].Group);
            best = options[0].Fit;
        }

        var w = (double[])weight.Clone();
        var b = (double[]?)bias?.Clone();
        var removed = StructuredObs.Remove(w, b, inputs, outputs, hessian, mean, groupSize, count, dampening);

        Assert.Equal(Enumerable.Range(0, inputs / groupSize).Except(alive), removed);
        for (int i = 0; i < inputs; i++)
            for (int o = 0; o < outputs; o++) Assert.Equal(best[i, o], w[i * outputs + o], 1e-8);
        if (withBias) for (int o = 0; o < outputs; o++) Assert.Equal(best[inputs, o], b![o], 1e-8);
    }

    [Fact]
    public void RefittedOutputProjectionReproducesTheOriginalBetterThanCuttingTheSameHeads()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var calibration = Enumerable.Range(0, 6).Select(s => (IReadOnlyDictionary<string, Tensor>)EncoderLayersTests.Feed(1, 7, (ulong)(20 + s))).ToList();
        var refitted = CalibratedWidth.RemoveHeads(model, layers, 0.5, () => calibration, dampening: 1e-6);
        var cut = AttentionPruning.RemoveHeads(model, layers, refitted.Layers.ToDictionary(l => l.Layer, l => l.Removed.ToArray()));
        Assert.All(refitted.Layers, l => Assert.Equal((4, 2), (l.Before, l.After)));
        Assert.Equal(cut.ParametersAfter, refitted.ParametersAfter);

        // Layer 0 reads the same input in all three models: its output projection (with bias) is compared directly.
        var output = layers[0].Projections!.Output;
        string projected = model.Graph.Nodes.Single(nd => nd.OpType == OpTypes.Add && nd.Inputs.Contains(output.Bias!)).Outputs[0];
        double refitError = 0, cutError = 0;
        foreach (var feed in calibration)
        {
            var expected = model.Run(feed)[projected].Data;
            refitError += expected.Zip(refitted.Model.Run(feed)[projected].Data, (a, c) => (double)(a - c) * (a - c)).Sum();
            cutError += expected.Zip(cut.Model.Run(feed)[projected].Data, (a, c) => (double)(a - c) * (a - c)).Sum();
        }
        Assert.True(refitError < 0.5 * cutError, $"refit error {refitError:E3}, cut error {cutError:E3}");
        Assert.NotEqual(model.Graph.Initializers[output.Bias!].Data, refitted.Model.Graph.Initializers[output.Bias!].Data);

        var feedOrt = EncoderLayersTests.Feed(2, 6, 7);
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(refitted.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [.. feedOrt.Select(f => (f.Key, f.Value))])["last_hidden_state"];
        var ours = refitted.Model.Run(feedOrt)["last_hidden_state"];
        Assert.True(ort.Data.Zip(ours.Data, (a, c) => Math.Abs(a - c)).Max() < 1e-4);
    }

    [Fact]
    public void NeuronsAreRemovedPerLayerAndABadFractionIsAOneLineError()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(13, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var calibration = new[] { (IReadOnlyDictionary<string, Tensor>)EncoderLayersTests.Feed(1, 9, 5) };
        var result = CalibratedWidth.RemoveNeurons(model, layers, 0.25, () => calibration);
        Assert.All(result.Layers, l => Assert.Equal((32, 24), (l.Before, l.After)));
        Assert.Equal([TinyTransformer.Width, 24], result.Model.Graph.Initializers[layers[1].Projections!.FeedForwardIn.Weight].Shape);
        var error = Assert.Throws<CondenseException>(() => CalibratedWidth.RemoveNeurons(model, layers, 1.0, () => calibration)).Message;
        Assert.DoesNotContain('\n', error);
    }

    private static int[] Kept(IEnumerable<int> groups, int groupSize, int inputs, bool withBias) =>
        [.. groups.SelectMany(g => Enumerable.Range(g * groupSize, groupSize)).Order(), .. withBias ? new[] { inputs } : []];

    // argmin over Ŵ supported on `kept` of tr((W − Ŵ)ᵀ H (W − Ŵ)): Ŵ_K = H_KK⁻¹ H_K,: W, by Gaussian elimination.
    private static double[,] Refit(double[,] h, double[,] w, int[] kept)
    {
        int n = h.GetLength(0), outputs = w.GetLength(1), k = kept.Length;
        var a = new double[k, k + outputs];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < k; j++) a[i, j] = h[kept[i], kept[j]];
            for (int o = 0; o < outputs; o++)
                for (int m = 0; m < n; m++) a[i, k + o] += h[kept[i], m] * w[m, o];
        }
        for (int p = 0; p < k; p++)
            for (int i = 0; i < k; i++)
            {
                if (i == p) continue;
                double f = a[i, p] / a[p, p];
                for (int j = p; j < k + outputs; j++) a[i, j] -= f * a[p, j];
            }
        var fit = new double[n, outputs];
        for (int i = 0; i < k; i++)
            for (int o = 0; o < outputs; o++) fit[kept[i], o] = a[i, k + o] / a[i, i];
        return fit;
    }

    private static double Objective(double[,] h, double[,] w, double[,] fit)
    {
        int n = h.GetLength(0), outputs = w.GetLength(1);
        double total = 0;
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) total += (w[i, o] - fit[i, o]) * h[i, j] * (w[j, o] - fit[j, o]);
        return total;
    }
}
