// The supervised training loop: shuffled mini-batches, forward, loss, backward, optimizer step,
// schedule per epoch, evaluation after each epoch. Deterministic: the seed fixes the shuffles and
// augmentations, and every kernel is deterministic, so two runs give bit-identical weights. Under mpirun each rank
// trains on its share of every global batch (DataParallel): the same batches, order and augmentation as one process.
using System.Diagnostics;
using Condense.Data;
using Condense.Distributed;
using Condense.Nn;
using Condense.Optim;
using Condense.Tensors;

namespace Condense.Training;

/// <summary>Progress of a training run, reported after each batch.</summary>
public sealed record TrainProgress(int Epoch, int Epochs, int Batch, int Batches, float RunningLoss, float RunningAccuracy)
{
    /// <summary>What is being trained, when a pipeline of several runs says (e.g. "training teacher mlp:784-300-100-10").</summary>
    public string? Task { get; init; }

    /// <summary>Passes <paramref name="progress"/>'s reports on with <see cref="Task"/> set to <paramref name="task"/>.</summary>
    public static IProgress<TrainProgress>? Named(IProgress<TrainProgress>? progress, string task) =>
        progress is null ? null : new NamedProgress(progress, task);

    private sealed class NamedProgress(IProgress<TrainProgress> inner, string task) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => inner.Report(value with { Task = task });
    }
}

/// <summary>What one epoch achieved.</summary>
public sealed record EpochResult(int Epoch, float LearningRate, float TrainLoss, float TrainAccuracy, EvalResult? Validation, double Seconds);

/// <summary>The outcome of <see cref="Trainer.Fit"/>.</summary>
public sealed record TrainReport(IReadOnlyList<EpochResult> Epochs, double Seconds, double SamplesPerSecond);

/// <summary>
/// Ways to change the training loop without copying it: a loss other than cross-entropy (distillation),
/// and actions around each optimizer step (pruning masks, gradual schedules).
/// </summary>
public sealed record TrainHooks
{
    /// <summary>Replaces cross-entropy: gets the logits and the batch (its features as the model saw them, augmented if on), returns a scalar loss.</summary>
    public Func<Tensor, Batch, Tensor>? Loss { get; init; }

    /// <summary>Runs after the backward pass, before the optimizer step (e.g. to mask gradients).</summary>
    public Action<Optimizer>? BeforeStep { get; init; }

    /// <summary>Runs after every optimizer step with the number of steps taken so far (e.g. to re-apply masks).</summary>
    public Action<Optimizer, int>? AfterStep { get; init; }
}

/// <summary>Trains classifiers with cross-entropy (or a custom loss).</summary>
public static class Trainer
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="train"/>; evaluates on <paramref name="validation"/> after each epoch.
    /// </summary>
    public static TrainReport Fit(Module model, Dataset train, Dataset? validation, TrainOptions options,
        IProgress<TrainProgress>? progress = null, TrainHooks? hooks = null)
    {
        var loss = hooks?.Loss;
        options.Validate();
        if (train.Labels is null && loss is null) throw new CondenseException($"{train.Name} has no labels to train on");
        var optimizer = CreateOptimizer(model, options);
        LrScheduler? scheduler = options.Schedule switch
        {
            ScheduleKind.Step => new StepLR(optimizer, options.StepSize, options.Gamma),
            ScheduleKind.Cosine => new CosineAnnealingLR(optimizer, options.Epochs),
            _ => null,
        };
        var loader = new DataLoader(train, options.BatchSize, shuffle: true, options.Seed);
        var augmentRng = new Rng(options.Seed ^ 0xA5A5_5A5A_1234_5678UL);
        var epochs = new List<EpochResult>();
        var world = World.Current;
        DataParallel.CheckAgreement(model, train, world);
        var total = Stopwatch.StartNew();
        long samples = 0;
        int steps = 0;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            var watch = Stopwatch.StartNew();
            model.Train();
            float learningRate = optimizer.LearningRate;
            double lossSum = 0; long correct = 0, seen = 0; int batchIndex = 0;
            foreach (var batch in loader.Epoch(epoch))
            {
                // Each rank shifts its own share of the global batch, with the random draws of the whole batch (those of one process).
                var local = DataParallel.Shard(batch, world, options.AugmentShift <= 0 ? null
                    : (start, count) => Augment.RandomShift(batch.Features, train.SampleShape, options.AugmentShift, augmentRng, start, count));
                Span<float> sums = [0f, 0f];
                optimizer.ZeroGrad();
                if (local.Count > 0)
                {
                    var logits = model.Forward(local.Features);
                    // A custom loss sees the batch as the model saw it (augmented features).
                    var value = loss is null ? Losses.CrossEntropy(logits, local.Labels) : loss(logits, local);
                    value.Backward();
                    sums[0] = value.Item() * local.Count;
                    if (local.Labels.Length > 0) sums[1] = Metrics.CountCorrect(logits, local.Labels);
                }
                DataParallel.AllReduceGradients(optimizer.Params, (float)local.Count / batch.Count, sums, world);
                hooks?.BeforeStep?.Invoke(optimizer);
                optimizer.Step();
                hooks?.AfterStep?.Invoke(optimizer, ++steps);
                lossSum += sums[0];
                correct += (long)sums[1];
                seen += batch.Count;
                progress?.Report(new TrainProgress(epoch + 1, options.Epochs, ++batchIndex, loader.BatchCount,
                    (float)(lossSum / seen), (float)correct / seen));
            }
            samples += seen;
            scheduler?.Step();
            DataParallel.AverageBuffers(model, world);
            var validationResult = validation is null ? null : Evaluator.Evaluate(model, validation);
            epochs.Add(new EpochResult(epoch + 1, learningRate, (float)(lossSum / Math.Max(1, seen)), (float)correct / Math.Max(1, seen),
                validationResult, watch.Elapsed.TotalSeconds));
        }
        model.Eval();
        double seconds = total.Elapsed.TotalSeconds;
        return new TrainReport(epochs, seconds, seconds > 0 ? samples / seconds : 0);
    }

    /// <summary>The optimizer the options ask for, over the model's parameters.</summary>
    public static Optimizer CreateOptimizer(Module model, TrainOptions options) => options.Optimizer switch
    {
        OptimizerKind.Adam => new Adam(model.Parameters(), options.LearningRate, weightDecay: options.WeightDecay),
        OptimizerKind.AdamW => new AdamW(model.Parameters(), options.LearningRate, weightDecay: options.WeightDecay),
        _ => new Sgd(model.Parameters(), options.LearningRate, options.Momentum, options.WeightDecay,
            nesterov: options.Nesterov && options.Momentum > 0f),
    };
}
