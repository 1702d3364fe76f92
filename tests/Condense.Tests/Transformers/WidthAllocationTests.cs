// Heads and neurons removed unevenly across layers by measured sensitivity (WidthAllocation), against oracles the test
// computes itself: each curve point is the loss of that layer cut alone by CalibratedWidth's own path (its Hessians
// gathered anew, one greedy pass per count, no cache); the greedy allocation equals a brute-force search over every
// combination of counts on convex curves; a tiny BERT left with different head counts per layer runs in ONNX Runtime as
// in Condense.
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Transformers;

public class WidthAllocationTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EachPointIsTheLossOfItsLayerCutAlone(bool heads)
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var calibration = Feeds(6, seed: 30);
        var loss = Loss(model, Feeds(4, seed: 40));

        var curves = WidthAllocation.Measure(model, layers, heads, () => calibration, loss);

        Assert.Equal(["0", "1"], curves.Select(c => c.Tensor));
        int units = heads ? 4 : 32;
        Assert.All(curves, c => Assert.Equal(units, c.Parameters));
        for (int k = 0; k < layers.Count; k++)
            for (int j = 0; j < SensitivityAllocation.Grid.Count; j++)
            {
                var counts = new int[layers.Count];
                counts[k] = (int)Math.Min(units - 1, Math.Round(SensitivityAllocation.Grid[j] * units, MidpointRounding.AwayFromZero));
                var alone = CalibratedWidth.RemoveCounts(model, layers, counts, heads, () => calibration);
                Assert.Equal(loss(alone.Model), curves[k].Losses[j], 12);
            }
    }

    [Fact]
    public void TheGreedyFindsTheLeastTotalLossOnConvexCurves()
    {
        var rng = new Rng(5);
        for (int trial = 0; trial < 20; trial++)
        {
            int[] units = [6, 4, 8];
            // Convex in the removed share: rising increments.
            var curves = units.Select((n, k) =>
            {
                double a = rng.NextDouble() + 0.1, b = rng.NextDouble() * 3;
                return new SensitivityCurve($"{k}", n, [.. SensitivityAllocation.Grid.Select(f => a * f + b * f * f)]);
            }).ToList();
            foreach (double share in new[] { 0.25, 0.5, 0.7 })
            {
                var counts = WidthAllocation.Allocate(curves, share);
                int total = (int)Math.Round(share * units.Sum(), MidpointRounding.AwayFromZero);
                Assert.Equal(total, counts.Sum());
                double best = double.PositiveInfinity;
                for (int x = 0; x <= 5; x++)
                    for (int y = 0; y <= 3; y++)
                    {
                        int z = total - x - y;
                        if (z < 0 || z > 7) continue;
                        best = Math.Min(best, Total(curves, [x, y, z]));
                    }
                Assert.Equal(best, Total(curves, counts), 9);
            }
        }
        var error = Assert.Throws<CondenseException>(() => WidthAllocation.Allocate([new SensitivityCurve("0", 4, [.. SensitivityAllocation.Grid])], 0.95));
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void UnevenHeadCountsRunInOnnxRuntimeAsInCondense()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(13, layers: 2, heads: 4));
        var layers = EncoderLayers.Find(model);
        var calibration = Feeds(6, seed: 50);
        // Layer 0 matters more than layer 1 by construction: its loss rises ten times as fast.
        var curves = new[] { new SensitivityCurve("0", 4, [.. SensitivityAllocation.Grid.Select(f => 10 * f)]),
            new SensitivityCurve("1", 4, [.. SensitivityAllocation.Grid.Select(f => f)]) };
        var counts = WidthAllocation.Allocate(curves, 0.5);
        Assert.Equal([1, 3], counts);
        var cut = CalibratedWidth.RemoveCounts(model, layers, counts, heads: true, () => calibration);
        Assert.Equal([(4, 3), (4, 1)], cut.Layers.Select(l => (l.Before, l.After)));

        var feed = EncoderLayersTests.Feed(2, 6, 7);
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(cut.Model.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [.. feed.Select(f => (f.Key, f.Value))])["last_hidden_state"];
        var ours = cut.Model.Run(feed)["last_hidden_state"];
        Assert.True(ort.Data.Zip(ours.Data, (a, c) => Math.Abs(a - c)).Max() < 1e-4);
    }

    // Σ over layers of each curve's loss at its count, linear between grid points (0 at 0).
    private static double Total(IReadOnlyList<SensitivityCurve> curves, int[] counts)
    {
        double sum = 0;
        for (int k = 0; k < curves.Count; k++)
        {
            double share = (double)counts[k] / curves[k].Parameters, previous = 0, previousLoss = 0;
            var grid = SensitivityAllocation.Grid;
            for (int i = 0; i < grid.Count; i++)
            {
                if (share <= grid[i] + 1e-12) { sum += previousLoss + (curves[k].Losses[i] - previousLoss) * (share - previous) / (grid[i] - previous); break; }
                (previous, previousLoss) = (grid[i], curves[k].Losses[i]);
            }
        }
        return sum;
    }

    private static List<IReadOnlyDictionary<string, Tensor>> Feeds(int count, ulong seed) =>
        [.. Enumerable.Range(0, count).Select(s => (IReadOnlyDictionary<string, Tensor>)EncoderLayersTests.Feed(1, 7, seed + (ulong)s))];

    // 1 − the mean cosine of the flattened last hidden states to the original's, over the probe feeds.
    private static Func<GraphModule, double> Loss(GraphModule original, List<IReadOnlyDictionary<string, Tensor>> probe)
    {
        var reference = probe.Select(f => original.Run(f)["last_hidden_state"].Data).ToList();
        return m => 1 - probe.Select((f, i) => Cosine(m.Run(f)["last_hidden_state"].Data, reference[i])).Average();
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) (dot, na, nb) = (dot + (double)a[i] * b[i], na + (double)a[i] * a[i], nb + (double)b[i] * b[i]);
        return dot / Math.Sqrt(na * nb);
    }
}
