// Filters chosen on calibration data with the reading layer refitted (CalibratedFilters), against oracles the test computes
// itself: the reader's refit is the least-squares fit of its original output from the kept channels (normal equations
// solved by naive Gaussian elimination over im2col rows built by a naive loop), a filter that duplicates another is the
// one removed (its reader can take over its work exactly) where weight norms would keep it, and the cut model is closer
// to the original than the norm-chosen cut on fresh inputs from the calibration distribution.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Tensors;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class CalibratedFiltersTests
{
    [Fact]
    public void TheReaderIsRefittedToTheLeastSquaresFitOfItsOutput()
    {
        var model = Spec("lenet5", seed: 3);
        var x = Inputs(model, 48, seed: 4);
        var result = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], dampening: 1e-4);

        // The first group (conv "1" → conv "4") was cut on the original model's inputs: its refit is the plain least squares.
        var first = result.Changes[0];
        Assert.Equal(["1.weight"], first.Layers);
        Assert.Equal(3, first.ChannelsAfter);
        var conv = model.Graph.Nodes.Single(n => n.OpType == OpTypes.Conv && n.Inputs[1] == "4.weight");
        var values = Run(model, x);
        var weight = model.Graph.Initializers["4.weight"];
        var patches = Im2Col(values[conv.Inputs[0]], weight.Shape, conv);
        var (expectedWeight, expectedBias) = LeastSquares(patches, values[conv.Outputs[0]], weight.Shape, [.. first.Kept]);

        // The second group then removed half of conv "4"'s own filters: compare the rows of the filters it kept.
        var second = result.Changes[1];
        Assert.Equal(["4.weight"], second.Layers);
        int per = 3 * 25;
        var refitted = result.Model.Graph.Initializers["4.weight"];
        var refittedBias = result.Model.Graph.Initializers[result.Model.Graph.Nodes.Single(n => n.Inputs.Count > 1 && n.Inputs[1] == "4.weight").Inputs[2]];
        Assert.Equal([8, 3, 5, 5], refitted.Shape);
        AssertClose([.. second.Kept.SelectMany(o => expectedWeight.Skip(o * per).Take(per))], refitted.Data, "4.weight");
        AssertClose([.. second.Kept.Select(o => expectedBias[o])], refittedBias.Data, "4 bias");
    }

    [Fact]
    public void ADuplicatedFilterIsTheOneRemoved()
    {
        var model = Spec("lenet5", seed: 5);
        // Filter 3 of the first conv becomes filter 0, both the strongest by norm: removing either loses nothing.
        var w = model.Graph.Initializers["1.weight"];
        var b = model.Graph.Initializers["1.bias"];
        int per = w.Size / 6;
        for (int i = 0; i < per; i++) w.Data[i] = w.Data[3 * per + i] = 3 * w.Data[3 * per + i];
        b.Data[0] = b.Data[3] = 3 * b.Data[3];
        var x = Inputs(model, 24, seed: 6);

        var calibrated = CalibratedFilters.Remove(model, 1.0 / 6, () => [Feed(model, x)], dampening: 1e-4);
        var byNorm = StructuredPruning.Remove(model, 1.0 / 6);

        Assert.Equal(5, calibrated.Changes[0].ChannelsAfter);
        Assert.True(!calibrated.Changes[0].Kept.Contains(0) || !calibrated.Changes[0].Kept.Contains(3), "a duplicate is removed");
        Assert.Contains(0, byNorm.Changes[0].Kept);
        Assert.Contains(3, byNorm.Changes[0].Kept);
    }

    [Fact]
    public void TheCutIsCloserToTheOriginalThanTheNormChosenCut()
    {
        var model = Spec("lenet5", seed: 7);
        var calibration = Inputs(model, 64, seed: 8);
        var fresh = Inputs(model, 32, seed: 9);
        var calibrated = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, calibration)]).Model;
        var byNorm = StructuredPruning.Remove(model, 0.5).Model;

        var reference = Logits(model, fresh);
        double calibratedError = SquaredError(Logits(calibrated, fresh), reference);
        double normError = SquaredError(Logits(byNorm, fresh), reference);
        Assert.True(calibratedError < 0.5 * normError, $"calibrated {calibratedError}, by norm {normError}");
    }

    [Fact]
    public void ResidualChannelsAreLeftWholeOrCutByNorm()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 10);
        var x = Inputs(model, 16, seed: 11);
        var inner = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)]);
        var all = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], pruneJoined: true);

        Assert.Equal(3, inner.Changes.Count);
        Assert.All(inner.Changes, c => Assert.Single(c.Layers));
        Assert.Equal(3, inner.Skipped.Count(s => s.Contains("residual")));
        Assert.Equal(6, all.Changes.Count);
        Assert.Equal([8, 4, 3, 3], all.Model.Graph.Initializers["5.conv1.weight"].Shape);
        Assert.Equal(Logits(model, x).Length, Logits(all.Model, x).Length);
        // The input model is not changed.
        Assert.Equal([16, 8, 3, 3], model.Graph.Initializers["5.conv1.weight"].Shape);
    }

    private static GraphModule Spec(string spec, ulong seed)
    {
        var parsed = ModelSpec.Parse(spec);
        return new GraphModule(GraphTracer.Trace(parsed.Build(seed), [parsed.InFeatures]));
    }

    private static Tensor Inputs(GraphModule model, int count, ulong seed) =>
        Tensor.Uniform(new Rng(seed), 0f, 1f, [count, .. model.Graph.Inputs[0].Shape[1..]]);

    private static Dictionary<string, Tensor> Feed(GraphModule model, Tensor x) => new() { [model.Graph.Inputs[0].Name] = x };

    private static Dictionary<string, Tensor> Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        return model.Run(Feed(model, x)).ToDictionary(p => p.Key, p => p.Value);
    }

    private static float[] Logits(GraphModule model, Tensor x) => Run(model, x)[model.Graph.Outputs[0].Name].Data;

    private static double SquaredError(float[] a, float[] b) => a.Zip(b, (p, q) => (double)(p - q) * (p - q)).Sum();

    // Naive im2col of x (N, C, H, W) for the conv: rows (n, y, x), columns (c, i, j) as the weight lays them out.
    private static double[][] Im2Col(Tensor x, int[] weightShape, Node conv)
    {
        int channels = x.Shape[1], height = x.Shape[2], width = x.Shape[3], kH = weightShape[2], kW = weightShape[3];
        var pads = conv.Attributes.TryGetValue("pads", out var p) ? p.IntsValue! : [0, 0, 0, 0];
        var strides = conv.Attributes.TryGetValue("strides", out var s) ? s.IntsValue! : [1, 1];
        int outH = (height + (int)pads[0] + (int)pads[2] - kH) / (int)strides[0] + 1, outW = (width + (int)pads[1] + (int)pads[3] - kW) / (int)strides[1] + 1;
        var rows = new List<double[]>();
        for (int n = 0; n < x.Shape[0]; n++)
            for (int oy = 0; oy < outH; oy++)
                for (int ox = 0; ox < outW; ox++)
                {
                    var row = new double[channels * kH * kW];
                    for (int c = 0; c < channels; c++)
                        for (int i = 0; i < kH; i++)
                            for (int j = 0; j < kW; j++)
                            {
                                int yy = oy * (int)strides[0] - (int)pads[0] + i, xx = ox * (int)strides[1] - (int)pads[1] + j;
                                if (yy >= 0 && yy < height && xx >= 0 && xx < width)
                                    row[(c * kH + i) * kW + j] = x.Data[((n * channels + c) * height + yy) * width + xx];
                            }
                    rows.Add(row);
                }
        return [.. rows];
    }

    // min ‖[X_kept, 1] [W; b] − Y‖² for every output channel, by the normal equations; W laid out as the cut weight.
    private static (float[] Weight, float[] Bias) LeastSquares(double[][] patches, Tensor output, int[] weightShape, int[] kept)
    {
        int outputs = weightShape[0], taps = weightShape[2] * weightShape[3], features = kept.Length * taps + 1;
        int positions = output.Shape[2] * output.Shape[3];
        var columns = kept.SelectMany(c => Enumerable.Range(c * taps, taps)).ToArray();
        var a = new double[features, features];
        var rhs = new double[features, outputs];
        for (int r = 0; r < patches.Length; r++)
        {
            var z = columns.Select(k => patches[r][k]).Append(1.0).ToArray();
            int n = r / positions, position = r % positions;
            for (int i = 0; i < features; i++)
            {
                for (int j = 0; j < features; j++) a[i, j] += z[i] * z[j];
                for (int o = 0; o < outputs; o++) rhs[i, o] += z[i] * output.Data[(n * outputs + o) * positions + position];
            }
        }
        var solution = Solve(a, rhs, features, outputs);
        var weight = new float[outputs * kept.Length * taps];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < kept.Length * taps; i++) weight[o * kept.Length * taps + i] = (float)solution[i, o];
        return (weight, [.. Enumerable.Range(0, outputs).Select(o => (float)solution[features - 1, o])]);
    }

    // Gauss–Jordan elimination with partial pivoting.
    private static double[,] Solve(double[,] a, double[,] b, int n, int m)
    {
        for (int col = 0; col < n; col++)
        {
            int pivot = Enumerable.Range(col, n - col).MaxBy(r => Math.Abs(a[r, col]));
            for (int k = 0; k < n; k++) (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
            for (int k = 0; k < m; k++) (b[col, k], b[pivot, k]) = (b[pivot, k], b[col, k]);
            for (int r = 0; r < n; r++)
            {
                if (r == col || a[r, col] == 0) continue;
                double f = a[r, col] / a[col, col];
                for (int k = col; k < n; k++) a[r, k] -= f * a[col, k];
                for (int k = 0; k < m; k++) b[r, k] -= f * b[col, k];
            }
        }
        var x = new double[n, m];
        for (int r = 0; r < n; r++)
            for (int k = 0; k < m; k++) x[r, k] = b[r, k] / a[r, r];
        return x;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1e-3f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 2e-3f * scale, $"{what}[{i}]: least squares {expected[i]}, refitted {actual[i]}");
    }
}
