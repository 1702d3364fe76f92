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

        // Quantization, QAT and weight sharing, as in the README (one epoch instead of two).
        var (int8, layers) = Condense.Quantization.Quantizer.Quantize(loaded, train, new Condense.Quantization.QuantizeOptions { Mode = Condense.Quantization.QuantizationMode.Static });
        Module engine = Condense.Quantization.IntegerModel.Runner(int8);
        Assert.IsType<Condense.Quantization.IntegerModel>(engine);
        Assert.True(Evaluator.Evaluate(engine, test).Accuracy > 0.85f);
        var (qat, _) = Condense.Quantization.Quantizer.Quantize(loaded, train, new Condense.Quantization.QuantizeOptions { WeightBits = 4, KeepFloatWeights = true });
        Trainer.Fit(qat, train, test, new TrainOptions { Epochs = 1, LearningRate = 0.01f });
        GraphModule int4 = Condense.Quantization.Quantizer.Convert(qat);
        Assert.Equal(ElementType.Int4, int4.Graph.TypeOf("1.weight.quantized"));
        Condense.Quantization.WeightSharingResult shared = Condense.Quantization.WeightSharing.Apply(pruned, bits: 5);
        Trainer.Fit(pruned, train, test, new TrainOptions { Epochs = 1, LearningRate = 0.01f }, hooks: shared.Hooks(Condense.Quantization.CentroidGradient.Mean));
        var sizes = Condense.Quantization.CompressionSizes.Measure(shared);
        Assert.True(sizes.HuffmanRatio > 20);
    }

    [Fact]
    public void ConvolutionalExampleRuns()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var spec = ModelSpec.Parse("lenet5");
        var lenet = spec.Build(seed: 0);
        var report = Trainer.Fit(lenet, train, test, TrainOptions.For(spec) with { Epochs = 1 });
        Assert.True(report.Epochs[^1].Validation!.Accuracy > 0.85f);
        string path = Path.Combine(_dir, "lenet5.safetensors");
        ModelFile.Save(lenet, path, train.SampleShape);
        Assert.Equal(Evaluator.Evaluate(lenet, test).Accuracy, Evaluator.Evaluate(ModelFile.Load(path), test).Accuracy);
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
