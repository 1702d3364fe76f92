// The README's library examples, as written (one epoch instead of fifteen), so they keep compiling and running.
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Training;

namespace Condense.Tests;

public sealed class ReadmeExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-readme-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TrainSaveLoadExampleRuns()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = new Sequential(new Flatten(), new Linear(784, 128), new ReLU(), new Linear(128, 10));
        var report = Trainer.Fit(model, train, test, new TrainOptions { Epochs = 1, Seed = 0 });
        Assert.True(report.Epochs[^1].Validation!.Accuracy > 0.85f);

        string path = Path.Combine(_dir, "mlp.safetensors");
        ModelFile.Save(model, path, train.SampleShape);
        GraphModule loaded = ModelFile.Load(path);
        Assert.Equal(Evaluator.Evaluate(model, test).Accuracy, Evaluator.Evaluate(loaded, test).Accuracy);

        GraphModule pruned = ModelFile.Load(path);
        Condense.Pruning.MaskSet masks = Condense.Pruning.Pruner.Prune(pruned, new Condense.Pruning.PruneOptions { Sparsity = 0.9, Global = true });
        Trainer.Fit(pruned, train, test, new TrainOptions { Epochs = 1 }, hooks: masks.Hooks());
        string prunedPath = Path.Combine(_dir, "mlp.pruned.safetensors");
        ModelFile.Save(pruned.Graph, prunedPath);
        Assert.True(new FileInfo(prunedPath).Length < new FileInfo(path).Length / 4);
        var summary = Condense.Reports.ModelSummary.Of(ModelFile.Load(prunedPath));
        Assert.InRange(summary.Sparsity, 0.89, 0.9);
    }

    [Fact]
    public void HandWrittenLoopExampleRuns()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = new Sequential(new Flatten(), new Linear(784, 128), new ReLU(), new Linear(128, 10));
        var optimizer = new Condense.Optim.Sgd(model.Parameters(), learningRate: 0.1f, momentum: 0.9f, nesterov: true);
        foreach (var batch in new DataLoader(train, batchSize: 64, shuffle: true, seed: 0).Epoch(0))
        {
            var loss = Losses.CrossEntropy(model.Forward(batch.Features), batch.Labels);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
        }
        Assert.True(Evaluator.Evaluate(model, test).Accuracy > 0.85f);
    }
}
