// A whole pruning run, as the CLI's `prune` command does it: measure the model, prune (one shot,
// gradually with AGP, in prune-retrain rounds, or structurally), fine-tune with the masks held,
// measure again, save, and report. The model passed in is changed in place (structured pruning
// returns a new, smaller model).
using Condense.Formats;
using System.Diagnostics;
using Condense.Onnx;
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
    /// <summary>The fine-tuning recipe (its Epochs is replaced by <see cref="FinetuneEpochs"/>); by default the training recipe, whose cosine schedule restarts from lr 0.1.</summary>
    public TrainOptions Finetune { get; init; } = new();

    internal PruneRun Validate()
    {
        Options.Validate();
        if (FinetuneEpochs < 0) throw new CondenseException($"fine-tune epochs must not be negative, got {FinetuneEpochs}");
        if (Schedule == PruneSchedule.Agp && FinetuneEpochs == 0) throw new CondenseException("the AGP schedule prunes during fine-tuning: give --finetune-epochs");
        if (Schedule != PruneSchedule.OneShot && (Structured || Options.Method is not (PruneMethod.Magnitude or PruneMethod.Random)))
            throw new CondenseException($"the {Schedule} schedule works with magnitude or random pruning");
        if (Schedule == PruneSchedule.Iterative && Rounds < 1) throw new CondenseException($"rounds must be at least 1, got {Rounds}");
        return this;
    }
}

/// <summary>Runs pruning end to end.</summary>
public static class PrunePipeline
{
    /// <summary>
    /// Prunes <paramref name="model"/>, fine-tunes it on <paramref name="train"/>, evaluates on <paramref name="test"/>,
    /// saves it to <paramref name="output"/> (if given) and reports. <paramref name="fileBytesBefore"/> is the input file's size.
    /// </summary>
    public static (GraphModule Model, PruneReport Report) Run(GraphModule model, Dataset train, Dataset test, PruneRun run,
        string? output = null, long fileBytesBefore = 0, IProgress<TrainProgress>? progress = null)
    {
        run.Validate();
        QuantizedWeights.ThrowIfQuantized(model.Graph);   // integer weights have no magnitudes to rank: say so at once
        var watch = Stopwatch.StartNew();
        var before = ModelSummary.Of(model);
        float accuracyBefore = Evaluator.Evaluate(model, test).Accuracy;
        var finetune = run.Finetune with { Epochs = run.FinetuneEpochs };
        MaskSet? masks = null;
        IReadOnlyList<LayerChange>? changes = null;
        IReadOnlyList<string>? skipped = null;
        float accuracyAfterPruning;
        string method = Describe(run);

        switch (run.Schedule)
        {
            case PruneSchedule.OneShot when run.Structured:
                var structured = StructuredPruning.Remove(model, run.Ratio, run.Norm, run.Options.Include, run.Options.Exclude, run.PruneJoined);
                model = structured.Model;
                changes = structured.Changes;
                skipped = structured.Skipped;
                accuracyAfterPruning = Evaluator.Evaluate(model, test).Accuracy;
                break;
            case PruneSchedule.OneShot:
                masks = Pruner.Prune(model, run.Options);
                accuracyAfterPruning = Evaluator.Evaluate(model, test).Accuracy;
                break;
            case PruneSchedule.Agp:
                // "Right after pruning" for a gradual schedule: the final sparsity applied in one shot, on a copy.
                var oneShot = new GraphModule(model.Graph.Clone());
                Pruner.Prune(oneShot, run.Options);
                accuracyAfterPruning = Evaluator.Evaluate(oneShot, test).Accuracy;
                masks = Pruner.Prune(model, run.Options with { Sparsity = run.AgpInitialSparsity });
                var loader = new DataLoader(train, finetune.BatchSize, shuffle: true, finetune.Seed);
                var schedule = AgpSchedule.Spread(run.AgpInitialSparsity, run.Options.Sparsity, run.FinetuneEpochs * loader.BatchCount, run.AgpPruningSteps);
                var agpHooks = new TrainHooks
                {
                    AfterStep = (optimizer, step) =>
                    {
                        if (!schedule.IsPruningStep(step)) return;
                        foreach (var (target, mask) in Pruner.ComputeMasks(model, run.Options with { Sparsity = schedule.SparsityAt(step) }).Entries)
                            masks.Set(target, mask);
                        masks.Apply();
                        masks.MaskOptimizerState(optimizer);
                    },
                };
                Trainer.Fit(model, train, null, finetune, progress, masks.Hooks(agpHooks));
                break;
            default: // iterative: prune to s·r/R, retrain, repeat (Han et al. 2015)
                accuracyAfterPruning = float.NaN;
                for (int round = 1; round <= run.Rounds; round++)
                {
                    masks = Pruner.Prune(model, run.Options with { Sparsity = run.Options.Sparsity * round / run.Rounds });
                    if (round == 1) accuracyAfterPruning = Evaluator.Evaluate(model, test).Accuracy;
                    if (run.FinetuneEpochs > 0)
                        Trainer.Fit(model, train, null, finetune with { Seed = finetune.Seed + (ulong)round }, progress, masks.Hooks());
                }
                break;
        }

        float? accuracyAfterFinetuning = null;
        if (run.FinetuneEpochs > 0)
        {
            if (run.Schedule == PruneSchedule.OneShot)
                Trainer.Fit(model, train, null, finetune, progress, masks?.Hooks());
            accuracyAfterFinetuning = Evaluator.Evaluate(model, test).Accuracy;
        }

        long fileBytesAfter = 0;
        if (output is not null)
        {
            ModelFile.Save(model.Graph, output);
            fileBytesAfter = new FileInfo(output).Length;
        }
        var after = ModelSummary.Of(model);
        var report = new PruneReport(method, PruneReport.Compare(before, after),
            before.Parameters, after.Parameters, before.NonzeroParameters, after.NonzeroParameters,
            accuracyBefore, accuracyAfterPruning, accuracyAfterFinetuning, run.FinetuneEpochs * (run.Schedule == PruneSchedule.Iterative ? run.Rounds : 1),
            fileBytesBefore, fileBytesAfter, watch.Elapsed.TotalSeconds, changes, skipped);
        return (model, report);
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
