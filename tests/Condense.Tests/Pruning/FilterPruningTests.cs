// Filter pruning on convolutional graphs against a zero-masked dense oracle: the test ranks each channel
// group's filters itself (naive loops over the original weights), zeroes the removed filters, their
// biases and batch-norm weight and bias in a copy of the dense model (so each removed channel is exactly
// 0 after batch norm), and the physically smaller model must compute the same logits.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Tensors;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class FilterPruningTests
{
    /// <summary>Channels removed together as the test knows them: filters scored (out channels on axis 0), tensors whose axis-0 rows are zeroed.</summary>
    private sealed record Group(string[] Filters, string[] Rows);

    private static readonly Group[] LeNet5Groups =
    [
        new(["1.weight"], ["1.weight", "1.bias"]),
        new(["4.weight"], ["4.weight", "4.bias"]),
        new(["8.weight"], ["8.weight", "8.bias"]),
        new(["10.weight"], ["10.weight", "10.bias"]),
    ];

    private static readonly Group[] ResNetSingles =
    [
        new(["4.conv1.weight"], ["4.conv1.weight", "4.bn1.weight", "4.bn1.bias"]),
        new(["5.conv1.weight"], ["5.conv1.weight", "5.bn1.weight", "5.bn1.bias"]),
        new(["6.conv1.weight"], ["6.conv1.weight", "6.bn1.weight", "6.bn1.bias"]),
    ];

    // Joined by residual Adds: the stem with block 1's second conv (identity shortcut), and each later block's second conv with its projection.
    private static readonly Group[] ResNetJoined =
    [
        new(["1.weight", "4.conv2.weight"], ["1.weight", "2.weight", "2.bias", "4.conv2.weight", "4.bn2.weight", "4.bn2.bias"]),
        new(["5.conv2.weight", "5.shortcut.0.weight"],
            ["5.conv2.weight", "5.bn2.weight", "5.bn2.bias", "5.shortcut.0.weight", "5.shortcut.1.weight", "5.shortcut.1.bias"]),
        new(["6.conv2.weight", "6.shortcut.0.weight"],
            ["6.conv2.weight", "6.bn2.weight", "6.bn2.bias", "6.shortcut.0.weight", "6.shortcut.1.weight", "6.shortcut.1.bias"]),
    ];

    [Theory]
    [InlineData(0.5, NeuronNorm.L2)]
    [InlineData(0.3, NeuronNorm.L1)]
    public void LeNet5MatchesTheZeroMaskedModel(double ratio, NeuronNorm norm)
    {
        var model = Spec("lenet5", seed: 5);
        var original = model.Graph.Clone();
        var result = StructuredPruning.Remove(model, ratio, norm);

        var kept = LeNet5Groups.Select(g => Kept(original, g, ratio, norm)).ToArray();
        int c1 = kept[0].Length, c2 = kept[1].Length, f1 = kept[2].Length, f2 = kept[3].Length;
        Assert.Equal([c1, 1, 5, 5], Shape(result.Model, "1.weight"));
        Assert.Equal([c2, c1, 5, 5], Shape(result.Model, "4.weight"));
        Assert.Equal([f1, c2 * 25], Shape(result.Model, "8.weight"));
        Assert.Equal([f2, f1], Shape(result.Model, "10.weight"));
        Assert.Equal([10, f2], Shape(result.Model, "12.weight"));
        Assert.Equal(4, result.Changes.Count);
        for (int g = 0; g < kept.Length; g++) Assert.Equal(kept[g], result.Changes[g].Kept);
        Assert.Contains(result.Skipped, s => s.StartsWith("12.weight:", StringComparison.Ordinal) && s.Contains("model output"));

        // Flatten: conv2's channel c is fc1's 25 consecutive columns [25c, 25c + 25).
        var fc1 = original.Initializers["8.weight"].Data;
        var pruned = result.Model.Graph.Initializers["8.weight"].Data;
        for (int r = 0; r < f1; r++)
            for (int j = 0; j < c2; j++)
                for (int p = 0; p < 25; p++)
                    Assert.Equal(fc1[kept[2][r] * 400 + kept[1][j] * 25 + p], pruned[r * c2 * 25 + j * 25 + p]);

        AssertMatchesOracle(original, result.Model, LeNet5Groups, kept, 784);
        Assert.Equal(model.Graph.Initializers["4.weight"].Shape, original.Initializers["4.weight"].Shape); // input untouched
    }

    [Fact]
    public void PyTorchLeNet5MatchesTheZeroMaskedModel()
    {
        // PyTorch's export: its own names, and whatever form its flatten takes in ONNX.
        var model = Condense.Onnx.OnnxImporter.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", "lenet5.onnx"));
        var original = model.Graph.Clone();
        var result = StructuredPruning.Remove(model, 0.5, NeuronNorm.L1);
        Group[] groups = [.. new[] { "conv1", "conv2", "fc1", "fc2" }.Select(l => new Group([$"{l}.weight"], [$"{l}.weight", $"{l}.bias"]))];
        var kept = groups.Select(g => Kept(original, g, 0.5, NeuronNorm.L1)).ToArray();
        Assert.Equal([60, 8 * 25], Shape(result.Model, "fc1.weight"));
        AssertMatchesOracle(original, result.Model, groups, kept, 784);
    }

    [Fact]
    public void ResNetMiniPrunesJoinedLayersTogether()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 6);
        RandomizeBatchNorm(model.Graph, 7);
        var original = model.Graph.Clone();
        var result = StructuredPruning.Remove(model, 0.5, NeuronNorm.L2);

        Group[] groups = [.. ResNetJoined, .. ResNetSingles];
        var kept = groups.Select(g => Kept(original, g, 0.5, NeuronNorm.L2)).ToArray();
        Assert.Equal(6, result.Changes.Count);
        Assert.Contains(result.Changes,
            c => c.Layers.SequenceEqual(["5.conv2.weight", "5.shortcut.0.weight"]) && c.ChannelsBefore == 16 && c.ChannelsAfter == 8);
        Assert.Equal([4, 1, 3, 3], Shape(result.Model, "1.weight"));
        Assert.Equal([4], Shape(result.Model, "2.running_var"));
        Assert.Equal([8, 4, 1, 1], Shape(result.Model, "5.shortcut.0.weight"));
        Assert.Equal([8, 4, 3, 3], Shape(result.Model, "5.conv1.weight"));
        Assert.Equal([10, 16], Shape(result.Model, "9.weight"));
        AssertMatchesOracle(original, result.Model, groups, kept, 144);
    }

    [Fact]
    public void ResNetMiniCanLeaveJoinedLayersAlone()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 8);
        RandomizeBatchNorm(model.Graph, 9);
        var original = model.Graph.Clone();
        var result = StructuredPruning.Remove(model, 0.5, NeuronNorm.L1, pruneJoined: false);

        Assert.Equal(3, result.Changes.Count);
        foreach (var g in ResNetJoined)
        {
            Assert.Contains(result.Skipped, s => s.StartsWith(string.Join(" + ", g.Filters) + ":", StringComparison.Ordinal) && s.Contains("residual"));
            foreach (var name in g.Filters) Assert.Equal(original.Initializers[name].Shape[0], Shape(result.Model, name)[0]);
        }
        var kept = ResNetSingles.Select(g => Kept(original, g, 0.5, NeuronNorm.L1)).ToArray();
        AssertMatchesOracle(original, result.Model, ResNetSingles, kept, 144);
    }

    [Fact]
    public void DepthwiseConvFollowsTheChannelsItFilters()
    {
        var rng = new Rng(10);
        var model = From(new Sequential(new Unflatten(1, 8, 8), new Conv2d(1, 6, 3, padding: 1, rng: rng), new ReLU(),
            new Conv2d(6, 6, 3, padding: 1, groups: 6, rng: rng), new BatchNorm2d(6), new ReLU(),
            new Conv2d(6, 4, 1, rng: rng), new ReLU(), new Flatten(), new Linear(4 * 64, 3, rng: rng)), 64);
        RandomizeBatchNorm(model.Graph, 11);
        var original = model.Graph.Clone();
        var result = StructuredPruning.Remove(model, 0.5);

        Group[] groups =
        [
            new(["1.weight"], ["1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias"]),
            new(["6.weight"], ["6.weight", "6.bias"]),
        ];
        var kept = groups.Select(g => Kept(original, g, 0.5, NeuronNorm.L2)).ToArray();
        Assert.Equal([3, 1, 3, 3], Shape(result.Model, "3.weight"));
        Assert.Equal(3, result.Model.Graph.Nodes.Single(n => n.Inputs.Contains("3.weight")).Int("group", 1));
        Assert.Equal([2, 3, 1, 1], Shape(result.Model, "6.weight"));
        Assert.Equal([3, 2 * 64], Shape(result.Model, "9.weight"));
        AssertMatchesOracle(original, result.Model, groups, kept, 64);
    }

    [Fact]
    public void BlockedLayersAreLeftAloneWithTheReason()
    {
        var rng = new Rng(12);
        // Conv 1 feeds a grouped conv (group 2, not depthwise); conv 3's channels go through a sigmoid.
        var grouped = From(new Sequential(new Unflatten(1, 6, 6), new Conv2d(1, 4, 3, rng: rng), new ReLU(),
            new Conv2d(4, 4, 3, groups: 2, rng: rng), new Sigmoid(), new Flatten(), new Linear(16, 2, rng: rng)), 36);
        var result = StructuredPruning.Remove(grouped, 0.5);
        Assert.Empty(result.Changes);
        Assert.Contains(result.Skipped, s => s.StartsWith("1.weight:", StringComparison.Ordinal) && s.Contains("group=2"));
        Assert.Contains(result.Skipped, s => s.StartsWith("3.weight:", StringComparison.Ordinal) && s.Contains("group=2"));

        // An identity shortcut straight from the (reshaped) graph input: block 1's second conv is added to it.
        var residual = From(
            new Sequential(new Unflatten(2, 5, 5), new ResidualBlock(2, 2, rng: rng), new GlobalAvgPool2d(), new Flatten(), new Linear(2, 3, rng: rng)), 50);
        result = StructuredPruning.Remove(residual, 0.5);
        var change = Assert.Single(result.Changes);
        Assert.Equal(["1.conv1.weight"], change.Layers);
        Assert.Contains(result.Skipped, s => s.StartsWith("1.conv2.weight:", StringComparison.Ordinal) && s.Contains("no prunable layer writes"));

        // Include/exclude patterns choose layers; the rest are reported.
        result = StructuredPruning.Remove(Spec("lenet5", seed: 1), 0.5, include: ["1.weight", "4.weight"]);
        Assert.Equal([["1.weight"], ["4.weight"]], result.Changes.Select(c => c.Layers.ToArray()).ToArray());
        Assert.Contains(result.Skipped, s => s.StartsWith("8.weight:", StringComparison.Ordinal) && s.Contains("not selected"));
    }

    [Fact]
    public void PrunedLeNet5RunsInOnnxRuntime()
    {
        var pruned = StructuredPruning.Remove(Spec("lenet5", seed: 2), 0.5).Model;
        pruned.Eval();
        var x = RandomInput(3, 784, 4);
        float[] ours;
        using (GradMode.NoGrad()) ours = pruned.Forward(x).Data;
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Condense.Onnx.OnnxExporter.ToBytes(pruned.Graph));
        var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x.Data.ToArray(), [3, 784]);
        using var results = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        var ort = results.Single().AsEnumerable<float>().ToArray();
        Assert.Equal(ort.Length, ours.Length);
        for (int i = 0; i < ort.Length; i++)
            Assert.True(MathF.Abs(ort[i] - ours[i]) <= 1e-4f * Math.Max(1f, MathF.Abs(ort[i])), $"[{i}] ORT {ort[i]} ours {ours[i]}");
    }

    private static GraphModule Spec(string spec, ulong seed)
    {
        var parsed = ModelSpec.Parse(spec);
        var module = parsed.Build(seed);
        return new GraphModule(GraphTracer.Trace(module, [parsed.InFeatures]));
    }

    private static int[] Shape(GraphModule model, string name) => model.Graph.Initializers[name].Shape;

    // The test's own ranking: per filter, Σ|w| (L1) or √Σw² (L2), summed over the group's layers; the largest stay.
    private static int[] Kept(ModelGraph original, Group group, double ratio, NeuronNorm norm)
    {
        int channels = original.Initializers[group.Filters[0]].Shape[0];
        var score = new double[channels];
        foreach (var name in group.Filters)
        {
            var w = original.Initializers[name];
            int per = w.Size / channels;
            for (int c = 0; c < channels; c++)
            {
                double s = 0;
                for (int i = 0; i < per; i++) s += norm == NeuronNorm.L1 ? Math.Abs(w.Data[c * per + i]) : (double)w.Data[c * per + i] * w.Data[c * per + i];
                score[c] += norm == NeuronNorm.L1 ? s : Math.Sqrt(s);
            }
        }
        int remove = Math.Min(channels - 1, (int)Math.Round(ratio * channels, MidpointRounding.AwayFromZero));
        return Enumerable.Range(0, channels).OrderByDescending(c => score[c]).ThenBy(c => c).Take(channels - remove).Order().ToArray();
    }

    private static void AssertMatchesOracle(ModelGraph original, GraphModule pruned, Group[] groups, int[][] kept, int features)
    {
        var oracle = original.Clone();
        for (int g = 0; g < groups.Length; g++)
            foreach (var name in groups[g].Rows)
            {
                var t = oracle.Initializers[name];
                int per = t.Size / t.Shape[0];
                foreach (int c in Enumerable.Range(0, t.Shape[0]).Except(kept[g])) Array.Clear(t.Data, c * per, per);
            }
        var x = RandomInput(5, features, 13);
        var dense = new GraphModule(original);
        var zeroed = new GraphModule(oracle);
        dense.Eval(); zeroed.Eval(); pruned.Eval();
        float[] expected, actual, unpruned;
        using (GradMode.NoGrad())
        {
            expected = zeroed.Forward(x).Data;
            actual = pruned.Forward(x).Data;
            unpruned = dense.Forward(x).Data;
        }
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f * scale, $"logit {i}: zero-masked {expected[i]}, pruned {actual[i]}");
        // Sanity: the removed channels mattered.
        Assert.Contains(Enumerable.Range(0, expected.Length), i => MathF.Abs(unpruned[i] - expected[i]) > 1e-3f * scale);
    }

    // Batch norm as after training: running statistics and affine parameters away from 0 and 1.
    private static void RandomizeBatchNorm(ModelGraph graph, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var node in graph.Nodes.Where(n => n.OpType == "BatchNormalization"))
        {
            Fill(graph.Initializers[node.Inputs[1]].Data, () => 0.5f + rng.NextFloat());
            Fill(graph.Initializers[node.Inputs[2]].Data, () => rng.NextFloat() - 0.5f);
            Fill(graph.Initializers[node.Inputs[3]].Data, () => 0.2f * (rng.NextFloat() - 0.5f));
            Fill(graph.Initializers[node.Inputs[4]].Data, () => 0.5f + rng.NextFloat());
        }
        static void Fill(float[] data, Func<float> next) { for (int i = 0; i < data.Length; i++) data[i] = next(); }
    }
}
