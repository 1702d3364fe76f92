// The pruning pass: measure the model, prune (one shot, gradually with AGP, in prune-retrain rounds,
// or structurally), fine-tune with the masks held, measure again, and report (through the shared
// CompressionRun). The model passed in is changed in place (structured pruning returns a new, smaller
// model); the caller saves it and fills in the file sizes.
using Condense.Data;
using Condense.Graph;
using Condense.Reports;
using Condense.Training;

namespace Condense.Pruning;

/// <summary>When weights are removed.</summary>
public enum PruneSchedule
{
    /// <summary>Once, before fine-tuning.</summary>
    OneShot,
    /// <summary>Gradually during fine-tuning, with the AGP schedule (Zhu &amp; Gupta 2017).</summary>
    Agp,
    /// <summary>In rounds of prune then retrain at rising sparsity (Han et al. 2015).</summary>
    Iterative,
}

/// <summary>Everything a pruning run needs.</summary>
public sealed record PruneRun
{
    /// <summary>How to choose weights (unstructured and N:M).</summary>
    public PruneOptions Options { get; init; } = new();
    /// <summary>Remove whole conv filters and linear neurons instead of zeroing weights.</summary>
    public bool Structured { get; init; }
    /// <summary>For structured pruning: prune layers joined by a residual Add together (one shared channel set) rather than leave them alone.</summary>
    public bool PruneJoined { get; init; } = true;
    /// <summary>For structured pruning: the fraction of filters (neurons) removed per layer.</summary>
    public double Ratio { get; init; } = 0.5;
    /// <summary>For structured pruning: the norm that ranks neurons.</summary>
    public NeuronNorm Norm { get; init; } = NeuronNorm.L2;
    /// <summary>For structured pruning: each layer's kept filters (neurons) rounded to the nearest multiple of this; 1: none.</summary>
    public int ChannelMultiple { get; init; } = 1;
    /// <summary>When to prune.</summary>
    public PruneSchedule Schedule { get; init; } = PruneSchedule.OneShot;
    /// <summary>For AGP: the sparsity it starts from (the target is <see cref="PruneOptions.Sparsity"/>).</summary>
    public double AgpInitialSparsity { get; init; }
    /// <summary>For AGP: how many times masks are recomputed.</summary>
    public int AgpPruningSteps { get; init; } = 10;
    /// <summary>For iterative pruning: the number of prune-retrain rounds.</summary>
    public int Rounds { get; init; } = 3;
    /// <summary>Fine-tuning epochs (per round for iterative pruning); 0 for none.</summary>
    public int FinetuneEpochs { get; init; }
    /// <summary>
    /// The fine-tuning recipe (its Epochs is replaced by <see cref="FinetuneEpochs"/>); null: the library's recipe,
    /// <see cref="DefaultFinetune"/>.
    /// </summary>
    public TrainOptions? Finetune { get; init; }

    /// <summary>
    /// The fine-tuning recipe used when <see cref="Finetune"/> is null: the training recipe (cosine schedule) seeded with
    /// <see cref="PruneOptions.Seed"/>, from lr 0.1, or 0.01 for structured pruning or a model with convolutions.
    /// </summary>
    public TrainOptions DefaultFinetune(ModelGraph graph) => new() { LearningRate = DefaultLearningRate(Structured, graph), Seed = Options.Seed };

    /// <summary>The default fine-tuning learning rate: 0.1, or 0.01 for structured pruning or a model with convolutions.</summary>
    /// <remarks>
    /// A trained convolutional network loses accuracy when fine-tuned from lr 0.1 (LeNet-5, 50% magnitude, 2 epochs:
    /// 97.75% at 0.1, 98.35% at 0.01, from 98.45%), and removing whole neurons disturbs a network more than zeroing weights.
    /// </remarks>
    public static float DefaultLearningRate(bool structured, ModelGraph graph) =>
        structured || graph.Nodes.Any(n => n.OpType == OpTypes.Conv) ? 0.01f : 0.1f;

    /// <summary>Throws a one-line error for out-of-range or contradictory options.</summary>
    public PruneRun Validate()
    {
        Options.Validate();
        if (FinetuneEpochs < 0) throw new CondenseException($"fine-tune epochs must not be negative, got {FinetuneEpochs}");
        if (Schedule == PruneSchedule.Agp && FinetuneEpochs == 0)
            throw new CondenseException("the AGP schedule prunes during fine-tuning: give it fine-tune epochs");
        if (Schedule != PruneSchedule.OneShot && (Structured || Options.Method is not (PruneMethod.Magnitude or PruneMethod.Random)))
            throw new CondenseException($"the {Schedule} schedule works with magnitude or random pruning");
        if (Structured && Options.Allocation == SparsityAllocation.Sensitivity && Ratio > SensitivityAllocation.MaxSparsity)
            throw new CondenseException($"sensitivity allocation cuts no group by more than {SensitivityAllocation.MaxSparsity:P0}: "
                + $"a ratio of {Ratio:P0} is out of its reach");
        if (Schedule == PruneSchedule.Iterative && Rounds < 1) throw new CondenseException($"rounds must be at least 1, got {Rounds}");
        return this;
    }
}

/// <summary>The pruning pass.</summary>
public static class PrunePipeline
{
    /// <summary>
    /// Prunes <paramref name="model"/>, fine-tunes it on <paramref name="train"/> and evaluates it on <paramref name="test"/>.
    /// The report's file sizes are 0: the caller saves the model and sets them (<c>report with { FileBytesAfter = … }</c>).
    /// </summary>
    public static (GraphModule Model, PruneReport Report) Apply(GraphModule model, Dataset train, Dataset test, PruneRun run,
        IProgress<TrainProgress>? progress = null)
    {
        run.Validate();
        QuantizedWeights.ThrowIfQuantized(model.Graph);   // integer weights have no magnitudes to rank: say so at once
        var before = ModelSummary.Of(model);
        var finetune = (run.Finetune ?? run.DefaultFinetune(model.Graph)) with { Epochs = run.FinetuneEpochs };
        var (pruned, pass, measures) = CompressionRun.Run(model, test, (m, _) => Prune(m, train, test, run, finetune, progress),
            (m, p) => Finetune(m, train, run, finetune, p, progress), run.FinetuneEpochs);

        var after = ModelSummary.Of(pruned);
        var report = new PruneReport(Describe(run), PruneReport.Compare(before, after),
            before.Parameters, after.Parameters, before.NonzeroParameters, after.NonzeroParameters,
            measures.AccuracyBefore, measures.AccuracyAfterPass, measures.AccuracyAfterFinetuning,
            run.FinetuneEpochs * (run.Schedule == PruneSchedule.Iterative ? run.Rounds : 1),
            0, 0, measures.Seconds, pass.Changes, pass.Skipped);
        return (pruned, report);
    }

    // What pruning leaves for fine-tuning: the masks to hold (none for structured pruning), the AGP schedule, the structural changes.
    private sealed record PassState(MaskSet? Masks, AgpSchedule? Schedule, IReadOnlyList<LayerChange>? Changes, IReadOnlyList<string>? Skipped);

    private static PassStep<GraphModule, PassState> Prune(GraphModule model, Dataset train, Dataset test, PruneRun run, TrainOptions finetune,
        IProgress<TrainProgress>? progress)
    {
        switch (run.Schedule)
        {
            case PruneSchedule.OneShot when run.Structured:
                if (run.Options.Allocation == SparsityAllocation.Sensitivity)
                    throw new CondenseException("filters spread by sensitivity are chosen and measured on calibration images (ImagePrunePipeline); "
                        + "this pass cuts every layer by one ratio");
                var structured = StructuredPruning.Remove(model, run.Ratio, run.Norm, run.Options.Include, run.Options.Exclude, run.PruneJoined,
                    run.ChannelMultiple);
                return new(structured.Model, new PassState(null, null, structured.Changes, structured.Skipped));
            case PruneSchedule.OneShot:
                return new(model, new PassState(Pruner.Prune(model, run.Options), null, null, null));
            case PruneSchedule.Agp:
                // "Right after pruning" for a gradual schedule: the final sparsity applied in one shot, on a copy.
                var oneShot = new GraphModule(model.Graph.Clone());
                Pruner.Prune(oneShot, run.Options);
                float accuracy = Evaluator.Evaluate(oneShot, test).Accuracy;
                var masks = Pruner.Prune(model, run.Options with { Sparsity = run.AgpInitialSparsity });
                var loader = new DataLoader(train, finetune.BatchSize, shuffle: true, finetune.Seed);
                var schedule = AgpSchedule.Spread(run.AgpInitialSparsity, run.Options.Sparsity, run.FinetuneEpochs * loader.BatchCount, run.AgpPruningSteps);
                return new(model, new PassState(masks, schedule, null, null), accuracy);
            default: // iterative: prune to s·r/R, retrain, repeat (Han et al. 2015); the rounds' retraining is part of the pass
                float first = float.NaN;
                MaskSet? last = null;
                for (int round = 1; round <= run.Rounds; round++)
                {
                    last = Pruner.Prune(model, run.Options with { Sparsity = run.Options.Sparsity * round / run.Rounds });
                    if (round == 1) first = Evaluator.Evaluate(model, test).Accuracy;
                    if (run.FinetuneEpochs > 0)
                        Trainer.Fit(model, train, null, finetune with { Seed = finetune.Seed + (ulong)round }, progress, last.Hooks());
                }
                return new(model, new PassState(last, null, null, null), first);
        }
    }

    private static void Finetune(GraphModule model, Dataset train, PruneRun run, TrainOptions finetune, PassState pass, IProgress<TrainProgress>? progress)
    {
        if (run.Schedule == PruneSchedule.Iterative) return;   // retrained round by round in the pass
        var hooks = pass.Masks?.Hooks();
        if (pass is { Schedule: { } schedule, Masks: { } masks })
            hooks = masks.Hooks(new TrainHooks
            {
                AfterStep = (optimizer, step) =>
                {
                    if (!schedule.IsPruningStep(step)) return;
                    foreach (var (target, mask) in Pruner.ComputeMasks(model, run.Options with { Sparsity = schedule.SparsityAt(step) }).Entries)
                        masks.Set(target, mask);
                    masks.Apply();
                    masks.MaskOptimizerState(optimizer);
                },
            });
        Trainer.Fit(model, train, null, finetune, progress, hooks);
    }

    private static string Describe(PruneRun run)
    {
        var o = run.Options;
        if (run.Structured) return $"structured, {run.Ratio:P0} of filters/neurons by {run.Norm}{(run.PruneJoined ? "" : ", residual joins left alone")}";
        string what = o.Method switch
        {
            PruneMethod.Threshold => $"threshold |w| < {o.Threshold}",
            PruneMethod.NM => $"{o.N}:{o.M} semi-structured",
            PruneMethod.Random => $"random {o.Sparsity:P0}{(o.Global ? " global" : "")}",
            _ => $"magnitude {o.Sparsity:P0}{(o.Global ? " global" : " per tensor")}",
        };
        return run.Schedule switch
        {
            PruneSchedule.Agp => $"{what}, AGP from {run.AgpInitialSparsity:P0}",
            PruneSchedule.Iterative => $"{what}, {run.Rounds} prune-retrain rounds",
            _ => what,
        };
    }
}
