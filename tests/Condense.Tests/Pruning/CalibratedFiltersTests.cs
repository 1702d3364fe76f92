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

namespace Condense.Tests.Pruning;

public sealed class CalibratedFiltersTests
{
    [Fact]
    public void TheReaderIsRefittedToTheLeastSquaresFitOfItsOutput()
    {
        var model = Spec("lenet5", seed: 3);
        var x = Inputs(model, 512, seed: 4);
        var result = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], new FilterCutOptions { Dampening = 1e-6 });

        // The first group (conv "1" → conv "4") was cut on the original model's inputs: its refit is the plain least squares.
        var first = result.Changes[0];
        Assert.Equal(["1.weight"], first.Layers);
        Assert.Equal(3, first.ChannelsAfter);
        var conv = model.Graph.Nodes.Single(n => n.OpType == OpTypes.Conv && n.Inputs[1] == "4.weight");
        var values = Run(model, x);
        var weight = model.Graph.Initializers["4.weight"];
        var patches = Im2Col(values[conv.Inputs[0]], weight.Shape, conv);
        int taps = 25;
        var keptColumns = first.Kept.SelectMany(c => Enumerable.Range(c * taps, taps)).ToArray();
        // The second group then removed half of conv "4"'s own filters: the refit's targets are the filters it kept.
        var second = result.Changes[1];
        Assert.Equal(["4.weight"], second.Layers);
        var (expectedWeight, expectedBias) = LeastSquares([.. patches.Select(p => keptColumns.Select(k => p[k]).ToArray())],
            OutputRows(values[conv.Outputs[0]], second.Kept));

        var cut = result.Model.Graph;
        var refitted = cut.Initializers["4.weight"];
        Assert.Equal([8, 3, 5, 5], refitted.Shape);
        var bias = cut.Initializers[cut.Nodes.Single(n => n.Inputs.Count > 1 && n.Inputs[1] == "4.weight").Inputs[2]].Data;
        // Conv weight [out, in·taps] against the fit's [in·taps][out].
        AssertClose(expectedWeight, expectedBias, (o, i) => refitted.Data[o * keptColumns.Length + i], bias, "conv 4");
    }

    [Fact]
    public void LaterReadersAreFittedToTheUncutModelsOutputFromTheCutModelsInputs()
    {
        var model = Spec("lenet5", seed: 12);
        var x = Inputs(model, 512, seed: 13);
        var result = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], new FilterCutOptions { Target = RefitTarget.Uncut, Dampening = 1e-6 });

        // Group 2 (conv "4" → the Gemm "8", through max-pooling and flatten) was cut after group 1 changed conv "4"'s inputs.
        var gemm = result.Model.Graph.Nodes.Single(n => n.Inputs.Count > 1 && n.Inputs[1] == "8.weight");
        var cutInputs = Run(result.Model, x)[gemm.Inputs[0]];
        var originalOutputs = Run(model, x)[gemm.Outputs[0]];
        var inputs = OutputRows(cutInputs, [.. Enumerable.Range(0, cutInputs.Shape[1])]);
        var targets = OutputRows(originalOutputs, result.Changes[2].Kept);
        // The inputs are nearly collinear (sparse ReLU features), so the weights are compared by what they do.
        double error = AssertLeastError(inputs, targets, OutputRows(Run(result.Model, x)[gemm.Outputs[0]], [.. Enumerable.Range(0, targets[0].Length)]));
        // Fitting the layer's own output on the cut inputs instead (matchOriginal off) leaves more of the uncut output unexplained.
        var own = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], new FilterCutOptions { Target = RefitTarget.Own, Dampening = 1e-6 }).Model;
        var ownRows = OutputRows(Run(own, x)[gemm.Outputs[0]], [.. Enumerable.Range(0, targets[0].Length)]);
        double ownError = Enumerable.Range(0, targets.Length).Sum(r => targets[r].Select((t, o) => Math.Pow(ownRows[r][o] - t, 2)).Sum());
        Assert.True(ownError > 1.1 * error, $"own-output refit {ownError}, uncut-output refit {error}");
    }

    [Fact]
    public void AReaderAddedToAResidualStreamMakesUpTheStreamsChangeToo()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 14);
        var x = Inputs(model, 256, seed: 15);
        var result = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], new FilterCutOptions { Target = RefitTarget.UncutSum, Dampening = 1e-6 });

        // The last block's second conv adds to a stream the earlier blocks' cuts changed: its fit's target is the uncut model's
        // sum minus the cut model's stream, so that the sum itself is reproduced.
        var cut = result.Model.Graph;
        var conv = cut.Nodes.Single(n => n.OpType == OpTypes.Conv && n.Inputs[1] == "6.conv2.weight");
        var add = cut.Consumers(conv.Outputs[0]).Single();
        string stream = add.Inputs.Single(i => i != conv.Outputs[0]);
        var (before, after) = (Run(model, x), Run(result.Model, x));
        var all = Enumerable.Range(0, before[add.Outputs[0]].Shape[1]).ToArray();
        var sum = OutputRows(before[add.Outputs[0]], all);
        var streamNow = OutputRows(after[stream], all);
        var targets = sum.Select((row, r) => row.Select((v, o) => v - streamNow[r][o]).ToArray()).ToArray();
        var patches = Im2Col(after[conv.Inputs[0]], cut.Initializers["6.conv2.weight"].Shape, conv);
        AssertLeastError(patches, targets, OutputRows(after[conv.Outputs[0]], all));
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

        var calibrated = CalibratedFilters.Remove(model, 1.0 / 6, () => [Feed(model, x)], new FilterCutOptions { Dampening = 1e-4 });
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
    public void KeptChannelsRoundToTheMultipleAndExcludedLayersStayWhole()
    {
        var model = Spec("lenet5", seed: 16);
        var x = Inputs(model, 32, seed: 17);
        var rounded = CalibratedFilters.Remove(model, 0.3, () => [Feed(model, x)], new FilterCutOptions { ChannelMultiple = 4 });
        // 6, 16, 120, 84 channels: 0.3 of them removed leaves 4, 11, 84, 59; the nearest multiples of 4 are 12 and 60 for the
        // layers of at least 16 channels, the 6 of the first conv keep their exact count.
        Assert.Equal([4, 12, 84, 60], rounded.Changes.Select(c => c.ChannelsAfter));
        var sixteen = CalibratedFilters.Remove(model, 0.3, () => [Feed(model, x)], new FilterCutOptions { ChannelMultiple = 16 });
        // With 16: only the 120 and 84 of the Gemms are four multiples or more; 84 and 59 round to 80 and 64.
        Assert.Equal([4, 11, 80, 64], sixteen.Changes.Select(c => c.ChannelsAfter));

        // Readers wider than the limit are not refitted: the first group goes by weight norm and conv "4" keeps its weights.
        var wide = CalibratedFilters.Remove(model, 0.3, () => [Feed(model, x)], new FilterCutOptions { MaxReaderInputs = 1 });
        Assert.Equal(StructuredPruning.Remove(model, 0.3).Changes[0].Kept, wide.Changes[0].Kept);
        var (w4, cut4, inKept, outKept) = (model.Graph.Initializers["4.weight"].Data, wide.Model.Graph.Initializers["4.weight"].Data,
            wide.Changes[0].Kept, wide.Changes[1].Kept);
        Assert.Equal(outKept.SelectMany(o => inKept.SelectMany(i => w4.Skip((o * 6 + i) * 25).Take(25))), cut4);
        var excluded = CalibratedFilters.Remove(model, 0.3, () => [Feed(model, x)], new FilterCutOptions { Exclude = ["4.*"] });
        Assert.Equal(["1.weight", "8.weight", "10.weight"], excluded.Changes.Select(c => c.Layers.Single()));
        Assert.Contains(excluded.Skipped, s => s.StartsWith("4.weight:", StringComparison.Ordinal) && s.Contains("include/exclude"));
    }

    [Fact]
    public void ResidualChannelsAreLeftWholeOrCutByNorm()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 10);
        var x = Inputs(model, 16, seed: 11);
        var inner = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)]);
        var all = CalibratedFilters.Remove(model, 0.5, () => [Feed(model, x)], new FilterCutOptions { PruneJoined = true });

        Assert.Equal(3, inner.Changes.Count);
        Assert.All(inner.Changes, c => Assert.Single(c.Layers));
        Assert.Equal(3, inner.Skipped.Count(s => s.Contains("residual")));
        Assert.Equal(6, all.Changes.Count);
        Assert.Equal([8, 4, 3, 3], all.Model.Graph.Initializers["5.conv1.weight"].Shape);
        Assert.Equal(Logits(model, x).Length, Logits(all.Model, x).Length);
        // The input model is not changed.
        Assert.Equal([16, 8, 3, 3], model.Graph.Initializers["5.conv1.weight"].Shape);
    }

    internal static GraphModule Spec(string spec, ulong seed)
    {
        var parsed = ModelSpec.Parse(spec);
        return new GraphModule(GraphTracer.Trace(parsed.Build(seed), [parsed.InFeatures]));
    }

    internal static Tensor Inputs(GraphModule model, int count, ulong seed) =>
        Tensor.Uniform(new Rng(seed), 0f, 1f, [count, .. model.Graph.Inputs[0].Shape[1..]]);

    internal static Dictionary<string, Tensor> Feed(GraphModule model, Tensor x) => new() { [model.Graph.Inputs[0].Name] = x };

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

    // min ‖[X, 1] [W; b] − Y‖² by the normal equations: W as [features][outputs], b [outputs].
    private static (double[][] Weight, double[] Bias) LeastSquares(double[][] x, double[][] y)
    {
        int features = x[0].Length + 1, outputs = y[0].Length;
        var a = new double[features, features];
        var rhs = new double[features, outputs];
        for (int r = 0; r < x.Length; r++)
        {
            var z = x[r].Append(1.0).ToArray();
            for (int i = 0; i < features; i++)
            {
                for (int j = 0; j < features; j++) a[i, j] += z[i] * z[j];
                for (int o = 0; o < outputs; o++) rhs[i, o] += z[i] * y[r][o];
            }
        }
        // An input that is always 0 (a filter dead after ReLU) gets weight 0.
        for (int i = 0; i < features; i++) if (a[i, i] == 0) a[i, i] = 1;
        var solution = Solve(a, rhs, features, outputs);
        var weight = Enumerable.Range(0, features - 1).Select(i => Enumerable.Range(0, outputs).Select(o => solution[i, o]).ToArray()).ToArray();
        return (weight, [.. Enumerable.Range(0, outputs).Select(o => solution[features - 1, o])]);
    }

    // The layer's outputs miss the targets by no more than the least-squares fit from its inputs does (up to the dampening);
    // returns the layer's squared error.
    private static double AssertLeastError(double[][] inputs, double[][] targets, double[][] outputs)
    {
        var (fitWeight, fitBias) = LeastSquares(inputs, targets);
        double error = 0, leastError = 0, total = 0;
        for (int r = 0; r < targets.Length; r++)
            for (int o = 0; o < targets[r].Length; o++)
            {
                double fit = fitBias[o] + inputs[r].Select((v, i) => v * fitWeight[i][o]).Sum();
                error += Math.Pow(outputs[r][o] - targets[r][o], 2);
                leastError += Math.Pow(fit - targets[r][o], 2);
                total += targets[r][o] * targets[r][o];
            }
        Assert.True(error <= 1.01 * leastError, $"layer error {error}, least squares {leastError}, target energy {total}");
        Assert.True(leastError < 0.5 * total, "the fit explains the targets");
        return error;
    }

    // Rows (n, position) of a (N, O, H, W) or (N, O) value, channels `kept` only.
    private static double[][] OutputRows(Tensor y, IReadOnlyList<int> kept)
    {
        int outputs = y.Shape[1], positions = y.Size / (y.Shape[0] * outputs);
        return [.. Enumerable.Range(0, y.Shape[0] * positions).Select(r =>
            kept.Select(o => (double)y.Data[(r / positions * outputs + o) * positions + r % positions]).ToArray())];
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

    // The fit's W [in][out] and b against a layer's weight (read through `actual(o, i)`) and bias, relative to the largest |W|.
    private static void AssertClose(double[][] weight, double[] bias, Func<int, int, float> actual, float[] actualBias, string what)
    {
        double scale = weight.Max(row => row.Max(Math.Abs));
        for (int i = 0; i < weight.Length; i++)
            for (int o = 0; o < bias.Length; o++)
                Assert.True(Math.Abs(weight[i][o] - actual(o, i)) <= 2e-3 * scale,
                    $"{what} weight [{o}, {i}]: least squares {weight[i][o]}, refitted {actual(o, i)}");
        Assert.Equal(bias.Length, actualBias.Length);
        for (int o = 0; o < bias.Length; o++)
            Assert.True(Math.Abs(bias[o] - actualBias[o]) <= 2e-3 * scale, $"{what} bias [{o}]: least squares {bias[o]}, refitted {actualBias[o]}");
    }
}
