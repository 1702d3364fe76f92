// Training convolutional models with the default recipe, kept short: LeNet-5 learns MNIST digits from
// half of the embedded training set in two epochs, and a narrow resnet-mini's loss falls while its
// batch-norm running statistics move. The full 15-epoch figures (≥ 98.0% for LeNet-5) are in the README.
using Condense.Autograd;
using Condense.Data;
using Condense.Nn;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Tests.Training;

public sealed class ConvTrainingTests
{
    [Fact]
    public void LeNet5LearnsDigitsInTwoEpochsOnHalfTheData()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var spec = ModelSpec.Parse("lenet5");
        var model = spec.Build(seed: 0);
        var report = Trainer.Fit(model, train.Take(4000), test, TrainOptions.For(spec) with { Epochs = 2 });
        Assert.True(report.Epochs[1].TrainLoss < report.Epochs[0].TrainLoss, "training loss must fall");
        // Chance is 10%; an untrained LeNet-5 scores about that. Two short epochs must be far beyond it.
        var result = Evaluator.Evaluate(model, test);
        Assert.True(result.Accuracy >= 0.88f, $"test accuracy {result.Accuracy:P2} is below the 88% floor");
    }

    [Fact]
    public void ResNetMiniLossFallsAndBatchNormStatisticsMove()
    {
        var (train, _) = Mnist.LoadEmbedded();
        var spec = ModelSpec.Parse("resnet-mini,width=8");
        var model = spec.Build(seed: 0);
        var stem = model.Layers.OfType<BatchNorm2d>().First();
        float[] meanBefore = (float[])stem.RunningMean.Data.Clone();
        var subset = train.Take(512);
        float LossOn(Dataset data)
        {
            model.Eval();
            using var _ = GradMode.NoGrad();
            var all = Enumerable.Range(0, data.Count).ToArray();
            return Losses.CrossEntropy(model.Forward(data.Batch(all)), data.BatchLabels(all)).Data[0];
        }
        float before = LossOn(subset);
        Trainer.Fit(model, subset, null, TrainOptions.For(spec) with { Epochs = 4, BatchSize = 64 });
        float after = LossOn(subset);
        Assert.True(after < 0.9f * before, $"loss {before} → {after}");
        Assert.NotEqual(meanBefore, stem.RunningMean.Data);
    }
}
