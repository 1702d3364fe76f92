// The whole pruning run: every number in the report recomputed from the saved file — parameters,
// non-zeros, per-tensor counts, accuracy — for one-shot, AGP, iterative and structured runs.
using Condense.Formats;
using Condense.Graph;
using Condense.Pruning;
using Condense.Tests.Formats;
using Condense.Training;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class PrunePipelineTests : IDisposable
{
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TrainOptions Finetune = new() { LearningRate = 0.05f, Seed = 3 };

    private (PruneReport Report, GraphModule Saved) Run(PruneRun run, string file, int trainSamples = 600)
    {
        string path = _dir.File(file);
        var (pruned, report) = PrunePipeline.Apply(TrainedMlp.Fresh(), TrainedMlp.Train.Take(trainSamples), TrainedMlp.Test, run);
        ModelFile.Save(pruned.Graph, path);   // the caller saves and fills in the file sizes
        report = report with { FileBytesBefore = 1234, FileBytesAfter = new FileInfo(path).Length };
        var saved = Checkpoint.Load(path);

        Assert.Equal(new FileInfo(path).Length, report.FileBytesAfter);
        Assert.Equal(1234, report.FileBytesBefore);
        Assert.Equal(saved.Parameters().Sum(p => (long)p.Size), report.ParametersAfter);
        Assert.Equal(saved.Parameters().Sum(p => p.Size - Zeros(p.Data)), report.NonzeroAfter);
        Assert.Equal(1.0 - (double)report.NonzeroAfter / report.ParametersAfter, report.TotalSparsity, 12);
        var dense = TrainedMlp.Fresh();
        Assert.Equal(dense.Parameters().Sum(p => (long)p.Size), report.ParametersBefore);
        Assert.Equal(dense.Parameters().Sum(p => p.Size - Zeros(p.Data)), report.NonzeroBefore);
        Assert.Equal(Evaluator.Evaluate(dense, TrainedMlp.Test).Accuracy, report.AccuracyBefore);
        foreach (var t in report.Tensors)
        {
            var p = Param(saved, t.Name);
            Assert.Equal(p.Shape, t.ShapeAfter);
            Assert.Equal(p.Size, t.Parameters);
            Assert.Equal(p.Size - Zeros(p.Data), t.NonzeroAfter);
        }
        Assert.Equal(saved.NamedParameters().Select(p => p.Name).Order(), report.Tensors.Select(t => t.Name).Order());
        Assert.Equal(Evaluator.Evaluate(saved, TrainedMlp.Test).Accuracy, report.FinalAccuracy);
        return (report, saved);
    }

    private static double WeightSparsity(GraphModule model)
    {
        var weights = model.NamedParameters().Where(p => p.Name.EndsWith(".weight", StringComparison.Ordinal)).Select(p => p.Parameter).ToList();
        return weights.Sum(w => Zeros(w.Data)) / (double)weights.Sum(w => w.Size);
    }

    [Fact]
    public void OneShotGlobalReportMatchesTheSavedModel()
    {
        var (report, saved) = Run(
            new PruneRun { Options = new PruneOptions { Sparsity = 0.8, Global = true }, FinetuneEpochs = 1, Finetune = Finetune }, "global.safetensors");
        // round(s·n) zeros: at least s up to half a weight (20326 of 25408 is 0.79998).
        Assert.True(WeightSparsity(saved) >= 0.8 - 0.5 / 25408, $"weight sparsity {WeightSparsity(saved)}");
        Assert.Equal(
            Expected(0.8, 784 * 32 + 32 * 10),
            saved.NamedParameters().Where(p => p.Name.EndsWith("weight", StringComparison.Ordinal)).Sum(p => Zeros(p.Parameter.Data)));
        Assert.NotNull(report.AccuracyAfterFinetuning);
        Assert.Equal(1, report.FinetuneEpochs);
        Assert.InRange(report.FinalAccuracy, 0.5f, 1f);
        Assert.Contains("global", report.Method);
    }

    [Fact]
    public void OneShotWithoutFinetuningReportsTheAccuracyRightAfterPruning()
    {
        var (report, saved) = Run(new PruneRun { Options = new PruneOptions { Sparsity = 0.5 } }, "plain.safetensors");
        Assert.Null(report.AccuracyAfterFinetuning);
        Assert.Equal(report.AccuracyAfterPruning, report.FinalAccuracy);
        Assert.Equal(Expected(0.5, 784 * 32), Zeros(Param(saved, "1.weight").Data));
    }

    [Theory]
    [InlineData(600)] // 10 optimizer steps
    [InlineData(300)] // 5 steps: fewer than the 10 pruning steps asked for
    public void AgpEndsAtTheFinalSparsity(int trainSamples)
    {
        var run = new PruneRun
        {
            Options = new PruneOptions { Sparsity = 0.75 }, Schedule = PruneSchedule.Agp, AgpInitialSparsity = 0.1,
            AgpPruningSteps = 10, FinetuneEpochs = 1, Finetune = Finetune,
        };
        var (report, saved) = Run(run, $"agp{trainSamples}.safetensors", trainSamples);
        Assert.Equal(Expected(0.75, 784 * 32), Zeros(Param(saved, "1.weight").Data));
        Assert.Equal(Expected(0.75, 32 * 10), Zeros(Param(saved, "3.weight").Data));
        Assert.False(float.IsNaN(report.AccuracyAfterPruning));
        // "After pruning" for AGP is the one-shot prune at the final sparsity, measured on a copy.
        var oneShot = TrainedMlp.Fresh();
        Pruner.Prune(oneShot, run.Options);
        Assert.Equal(Evaluator.Evaluate(oneShot, TrainedMlp.Test).Accuracy, report.AccuracyAfterPruning);
    }

    [Fact]
    public void IterativeRoundsEndAtTheTarget()
    {
        var run = new PruneRun
        {
            Options = new PruneOptions { Sparsity = 0.6 }, Schedule = PruneSchedule.Iterative, Rounds = 2, FinetuneEpochs = 1, Finetune = Finetune,
        };
        var (report, saved) = Run(run, "iterative.safetensors");
        Assert.Equal(Expected(0.6, 784 * 32), Zeros(Param(saved, "1.weight").Data));
        Assert.Equal(Expected(0.6, 32 * 10), Zeros(Param(saved, "3.weight").Data));
        Assert.Equal(2, report.FinetuneEpochs);
        // The first round prunes to 0.3; its accuracy is measured on a copy pruned the same way.
        var first = TrainedMlp.Fresh();
        Pruner.Prune(first, run.Options with { Sparsity = 0.3 });
        Assert.Equal(Evaluator.Evaluate(first, TrainedMlp.Test).Accuracy, report.AccuracyAfterPruning);
    }

    [Fact]
    public void StructuredRunShrinksTheSavedModel()
    {
        var (report, saved) = Run(
            new PruneRun { Structured = true, Ratio = 0.5, FinetuneEpochs = 1, Finetune = Finetune with { LearningRate = 0.01f } }, "structured.safetensors");
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, report.ParametersAfter);
        Assert.Equal([16, 784], Param(saved, "1.weight").Shape);
        var change = Assert.Single(report.StructuralChanges!);
        Assert.Equal(16, change.Removed);
        Assert.Equal([32, 784], report.Tensors.Single(t => t.Name == "1.weight").ShapeBefore);
    }

    [Fact]
    public void InvalidRuns()
    {
        var model = TrainedMlp.Fresh();
        var before = Snapshot(model);
        void Fails(PruneRun run, string fragment)
        {
            var e = Assert.Throws<CondenseException>(() => PrunePipeline.Apply(model, TrainedMlp.Train, TrainedMlp.Test, run));
            Assert.Contains(fragment, e.Message);
        }
        Fails(new PruneRun { Schedule = PruneSchedule.Agp }, "fine-tune epochs");
        Fails(new PruneRun { Options = new PruneOptions { Sparsity = 1.5 } }, "sparsity");
        Fails(new PruneRun { Schedule = PruneSchedule.Iterative, Structured = true, FinetuneEpochs = 1 }, "magnitude or random");
        Fails(new PruneRun { Schedule = PruneSchedule.Iterative, Rounds = 0 }, "rounds");
        Fails(new PruneRun { FinetuneEpochs = -1 }, "negative");
        foreach (var (name, data) in before) AssertBitEqual(data, Param(model, name).Data, name);
    }
}
