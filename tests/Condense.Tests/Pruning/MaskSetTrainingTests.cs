// Masks that hold through fine-tuning: with every optimizer the trainer offers, pruned weights stay
// exactly zero after every step and the optimizer's state is zero there; without the hooks they drift.
using Condense.Data;
using Condense.Optim;
using Condense.Pruning;
using Condense.Training;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class MaskSetTrainingTests
{
    private static readonly Dataset Train = Mnist.LoadEmbedded().Train.Take(320);

    public static TheoryData<OptimizerKind, bool, float> Optimizers => new()
    {
        { OptimizerKind.Sgd, false, 0.05f },
        { OptimizerKind.Sgd, true, 0.05f },
        { OptimizerKind.Adam, false, 1e-3f },
        { OptimizerKind.AdamW, false, 1e-3f },
    };

    private static TrainOptions Options(OptimizerKind kind, bool nesterov, float lr) => new()
    {
        Epochs = 1, BatchSize = 64, Optimizer = kind, Nesterov = nesterov, LearningRate = lr,
        Momentum = 0.9f, WeightDecay = 1e-3f, Schedule = ScheduleKind.Constant, AugmentShift = 0, Seed = 5,
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void PrunedWeightsStayZeroAfterEveryStep(OptimizerKind kind, bool nesterov, float lr)
    {
        var model = Mlp("mlp:784-30-10");
        var masks = Pruner.Prune(model, new PruneOptions { Sparsity = 0.8 });
        var afterPruning = Snapshot(model);
        int steps = 0;
        Optimizer? seen = null;
        var check = new TrainHooks
        {
            AfterStep = (optimizer, step) =>
            {
                steps = step;
                seen = optimizer;
                Assert.Equal(nesterov, optimizer is Sgd { Nesterov: true });
                AssertHeld(masks, optimizer, $"step {step}");
            },
        };
        Trainer.Fit(model, Train, null, Options(kind, nesterov, lr), hooks: masks.Hooks(check));

        Assert.Equal(5, steps);
        Assert.NotNull(seen);
        AssertHeld(masks, seen, "end");
        foreach (var (target, mask) in masks.Entries)
        {
            int changed = 0;
            for (int i = 0; i < mask.Length; i++)
                if (mask[i] != 0f && target.Parameter.Data[i] != afterPruning[target.Name][i]) changed++;
            Assert.True(changed > mask.Length / 10, $"{target.Name}: only {changed} kept weights changed");
        }
        // The state really exists: momentum or moments are non-zero somewhere at kept positions.
        int index = seen.Params.ToList().IndexOf(masks.Entries[0].Target.Parameter);
        Assert.Contains(seen.State(index), s => s.Any(v => v != 0f));
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void WithoutTheHooksPrunedWeightsDrift(OptimizerKind kind, bool nesterov, float lr)
    {
        var model = Mlp("mlp:784-30-10");
        var masks = Pruner.Prune(model, new PruneOptions { Sparsity = 0.8 });
        Trainer.Fit(model, Train, null, Options(kind, nesterov, lr));
        foreach (var (target, mask) in masks.Entries)
        {
            int revived = 0;
            for (int i = 0; i < mask.Length; i++)
                if (mask[i] == 0f && target.Parameter.Data[i] != 0f) revived++;
            Assert.True(revived > 0, $"{target.Name}: no pruned weight moved without the masks");
        }
    }

    private static void AssertHeld(MaskSet masks, Optimizer optimizer, string when)
    {
        var parameters = optimizer.Params.ToList();
        foreach (var (target, mask) in masks.Entries)
        {
            var w = target.Parameter.Data;
            int index = parameters.IndexOf(target.Parameter);
            Assert.True(index >= 0, $"{target.Name} is not optimized");
            var states = optimizer.State(index).ToList();
            Assert.NotEmpty(states);
            for (int i = 0; i < mask.Length; i++)
            {
                if (mask[i] != 0f) continue;
                if (w[i] != 0f) Assert.Fail($"{when}: {target.Name}[{i}] = {w[i]:R}");
                foreach (var s in states)
                    if (s[i] != 0f) Assert.Fail($"{when}: optimizer state of {target.Name}[{i}] = {s[i]:R}");
            }
        }
    }
}
