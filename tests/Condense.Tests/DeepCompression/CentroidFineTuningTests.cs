// Centroid fine-tuning (Deep Compression §3.3): with the hooks, each centroid moves by the summed (or mean)
// gradient of its cluster — checked against a hand computation — every weight stays one of its tensor's
// ≤ 2^b shared values, and pruned weights stay exactly zero, through manual steps and through Trainer.Fit.
using Condense.Data;
using Condense.DeepCompression;
using Condense.Nn;
using Condense.Optim;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Training;
using static Condense.Tests.Pruning.PruningTestModels;
using static Condense.Tests.Quantization.QuantizationTestData;

namespace Condense.Tests.DeepCompression;

public sealed class CentroidFineTuningTests
{
    // A 3 → 2 linear layer; its weight (2, 3) is set by hand, with one pruned zero.
    private static (Condense.Graph.GraphModule Model, Parameter Weight, WeightSharingResult Result) Tiny()
    {
        var model = Mlp("mlp:3-2", seed: 1);
        var weight = Prunable.Find(model, new PruneOptions()).Single().Parameter;
        values().CopyTo(weight.Data, 0);
        weight.MarkModified();
        // Linear init over [−1.1, 2.2] with 4 centroids: −1.1, 0, 1.1, 2.2 → clusters {−1, −0.9, −1.1} and {2, 2.2}.
        return (model, weight, WeightSharing.Apply(model, 2));
        static float[] values() => [-1.0f, -0.9f, 0f, 2.0f, 2.2f, -1.1f];
    }

    private static void Step(Optimizer optimizer, TrainHooks hooks, Parameter weight, float[] gradient, int step)
    {
        weight.Grad = new Tensor((float[])gradient.Clone(), weight.Shape);
        hooks.BeforeStep!(optimizer);
        optimizer.Step();
        hooks.AfterStep!(optimizer, step);
    }

    [Theory]
    [InlineData(CentroidGradient.Sum, -1.3, 2.0)]   // c0 = −1 − 0.5·(0.1 + 0.3 + 0.2); c3 = 2.1 − 0.5·(−0.2 + 0.4)
    [InlineData(CentroidGradient.Mean, -1.1, 2.05)] // c0 = −1 − 0.5·0.6/3;             c3 = 2.1 − 0.5·0.2/2
    public void CentroidMovesByTheClusterGradient(CentroidGradient mode, double c0, double c3)
    {
        var (model, weight, result) = Tiny();
        var shared = result.Entries.Single().Shared;
        Assert.Equal([0, 0, 3, 3, 0], shared.Indices);
        Assert.Equal(-1f, shared.Centroids[0], 1e-6f);
        Assert.Equal(2.1f, shared.Centroids[3], 1e-6f);
        float empty1 = shared.Centroids[1], empty2 = shared.Centroids[2];

        var sgd = new Sgd([weight], learningRate: 0.5f);
        // The pruned weight's gradient (5) must not revive it.
        Step(sgd, result.Hooks(mode), weight, [0.1f, 0.3f, 5f, -0.2f, 0.4f, 0.2f], 1);

        Assert.Equal(c0, shared.Centroids[0], 1e-6);
        Assert.Equal(c3, shared.Centroids[3], 1e-6);
        Assert.Equal(empty1, shared.Centroids[1]);
        Assert.Equal(empty2, shared.Centroids[2]);
        float a = shared.Centroids[0], b = shared.Centroids[3];
        AssertBitEqual([a, a, 0f, b, b, a], weight.Data, "weight");
        Assert.Equal(3, Distinct(weight.Data));
    }

    [Fact]
    public void ShareGradientsSumsOrAveragesPerCluster()
    {
        var (_, weight, result) = Tiny();
        weight.Grad = new Tensor([0.1f, 0.3f, 5f, -0.2f, 0.4f, 0.2f], weight.Shape);
        result.ShareGradients(CentroidGradient.Sum);
        Assert.Equal([0.6f, 0.6f, 0f, 0.2f, 0.2f, 0.6f], weight.Grad.Data, (x, y) => Math.Abs(x - y) < 1e-6f);
        weight.Grad = new Tensor([0.1f, 0.3f, 5f, -0.2f, 0.4f, 0.2f], weight.Shape);
        result.ShareGradients(CentroidGradient.Mean);
        Assert.Equal([0.2f, 0.2f, 0f, 0.1f, 0.1f, 0.2f], weight.Grad.Data, (x, y) => Math.Abs(x - y) < 1e-6f);
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void WeightsStayTiedThroughManyStepsWithState(OptimizerKind kind)
    {
        var model = Mlp("mlp:20-13-7", seed: 2);
        Pruner.Prune(model, new PruneOptions { Sparsity = 0.5 });
        var result = WeightSharing.Apply(model, 3);
        Optimizer optimizer = kind == OptimizerKind.Adam
            ? new Adam(model.Parameters(), 1e-2f)
            : new Sgd(model.Parameters(), 1e-2f, momentum: 0.9f, weightDecay: 1e-3f, nesterov: true);
        var hooks = result.Hooks(CentroidGradient.Mean);
        var rng = new Rng(9);
        var start = result.Entries.Select(e => (float[])e.Shared.Centroids.Clone()).ToList();
        for (int step = 1; step <= 6; step++)
        {
            foreach (var p in model.Parameters())
                p.Grad = Tensor.Uniform(rng, -1f, 1f, p.Shape);
            hooks.BeforeStep!(optimizer);
            optimizer.Step();
            hooks.AfterStep!(optimizer, step);
            foreach (var (target, shared) in result.Entries)
            {
                var w = target.Parameter.Data;
                AssertBitEqual(shared.Reconstruct(), w, $"{target.Name} step {step}");
                Assert.True(Distinct(w.Where(v => v != 0f).ToArray()) <= 8);
                for (int i = 0; i < w.Length; i++) if (!shared.Mask[i]) Assert.Equal(0f, w[i]);
                int index = optimizer.Params.ToList().IndexOf(target.Parameter);
                foreach (var state in optimizer.State(index))
                    for (int i = 0; i < w.Length; i++) if (!shared.Mask[i]) Assert.Equal(0f, state[i]);
            }
        }
        for (int e = 0; e < start.Count; e++) Assert.NotEqual(start[e], result.Entries[e].Shared.Centroids);
    }

    [Fact]
    public void TrainerFineTunesCentroidsAndKeepsSharing()
    {
        var train = Mnist.LoadEmbedded().Train.Take(256);
        var model = Mlp("mlp:784-16-10", seed: 3);
        Pruner.Prune(model, new PruneOptions { Sparsity = 0.8 });
        var zeros = Snapshot(model).ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => v == 0f).ToArray());
        var result = WeightSharing.Apply(model, 3);
        var start = result.Entries.Select(e => (float[])e.Shared.Centroids.Clone()).ToList();
        int steps = 0;
        var check = new TrainHooks { AfterStep = (_, step) => steps = step };
        Trainer.Fit(model, train, null, new TrainOptions
        {
            Epochs = 1, BatchSize = 64, LearningRate = 1e-3f, Momentum = 0.9f, Schedule = ScheduleKind.Constant, AugmentShift = 0, Seed = 3,
        }, hooks: result.Hooks(CentroidGradient.Sum, check));

        Assert.Equal(4, steps);
        for (int e = 0; e < result.Entries.Count; e++)
        {
            var (target, shared) = result.Entries[e];
            var w = target.Parameter.Data;
            AssertBitEqual(shared.Reconstruct(), w, target.Name);
            Assert.True(Distinct(w.Where(v => v != 0f).ToArray()) <= 8);
            for (int i = 0; i < w.Length; i++) Assert.Equal(zeros[target.Name][i], w[i] == 0f);
            Assert.NotEqual(start[e], shared.Centroids);
        }
    }
}
