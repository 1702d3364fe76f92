// ImageEvaluation and the image passes on a small CNN over MNIST images: batching does not change outputs, accuracy
// agrees with the Evaluator, fidelity of a model to itself is perfect, top-1 agreement counts argmax matches, and the
// quantization and pruning passes report what they did against the original; the metrics name the engine that timed them.
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tests.Quantization;
using Condense.Training;

namespace Condense.Tests.Inference;

public class ImageEvaluationTests
{
    private static readonly Lazy<(GraphModule Model, Dataset Images)> Trained = new(() =>
    {
        var (train, test) = Mnist.LoadEmbedded();
        var module = ModelSpec.Parse("lenet5").Build(3);
        Trainer.Fit(module, train.Take(2000), null, new TrainOptions { Epochs = 1, Seed = 3, LearningRate = 0.05f });
        return (new GraphModule(GraphTracer.Trace(module, [1, 28, 28])), test.Take(200));
    });

    [Fact]
    public void BatchesGiveTheSameOutputsAsSingleImages()
    {
        var (model, images) = Trained.Value;
        var small = images.Take(13);
        var batched = ImageEvaluation.Outputs(model, small, batchSize: 8);
        var single = ImageEvaluation.Outputs(model, small, batchSize: 1);
        Assert.Equal([10], batched.SampleShape);
        Assert.True(batched.IsClassScores);
        for (int i = 0; i < small.Count; i++)
            for (int j = 0; j < 10; j++) Assert.Equal(single.Rows[i][j], batched.Rows[i][j], 4);
    }

    [Fact]
    public void AccuracyAgreesWithTheEvaluator()
    {
        var (model, images) = Trained.Value;
        var outputs = ImageEvaluation.Outputs(model, images);
        Assert.Equal(Evaluator.Evaluate(model, images).Accuracy, ImageEvaluation.Accuracy(outputs, images.Labels)!.Value, 6);
        Assert.Null(ImageEvaluation.Accuracy(outputs, null));
    }

    [Fact]
    public void FidelityToItselfIsPerfectAndTopOneAgreementCountsArgmaxMatches()
    {
        var (model, images) = Trained.Value;
        var outputs = ImageEvaluation.Outputs(model, images.Take(20));
        var same = ImageEvaluation.Compare(outputs, outputs);
        Assert.Equal(1, same.CosineMean, 6);
        Assert.Equal(1, same.Top1Agreement!.Value);
        // Swap the two top scores of the first 5 images: their predictions change, their cosines do not reach 1.
        var changed = outputs.Rows.Select(r => (float[])r.Clone()).ToArray();
        for (int i = 0; i < 5; i++)
        {
            var order = Enumerable.Range(0, 10).OrderByDescending(j => changed[i][j]).ToArray();
            (changed[i][order[0]], changed[i][order[1]]) = (changed[i][order[1]], changed[i][order[0]]);
        }
        var fidelity = ImageEvaluation.Compare(new ImageOutputs(changed, outputs.SampleShape), outputs);
        Assert.Equal(15 / 20.0, fidelity.Top1Agreement!.Value, 9);
        Assert.True(fidelity.CosineMin < 1);
    }

    [Fact]
    public void FeatureOutputsHaveNoTopOneAgreement()
    {
        var rows = new[] { new float[] { 1, 2 }, new float[] { 2, 1 }, new float[] { 1, 1 } };
        var features = new ImageOutputs(rows, [2, 1, 1]);
        Assert.False(features.IsClassScores);
        Assert.Null(ImageEvaluation.Compare(features, features).Top1Agreement);
    }

    [Fact]
    public void QuantizationReportsFidelityToTheFloatModel()
    {
        var (model, images) = Trained.Value;
        var (quantized, report) = ImageQuantizePipeline.Apply(model, images.Take(64), images, new QuantizeOptions());
        Assert.NotSame(model, quantized);
        Assert.Null(report.Before.Fidelity);
        var f = report.After.Fidelity!;
        Assert.InRange(f.CosineMean, 0.99, 1.0);
        Assert.True(f.CosineMean < 1);
        Assert.Equal(64, report.CalibrationImages);
        Assert.InRange(report.After.Accuracy!.Value, report.Before.Accuracy!.Value - 0.03, 1);
        Assert.Equal(report.Layers.Count, WeightLayers.Find(model).Count(t => !t.IsBias));
    }

    [Fact]
    public void StructuredPruningRemovesParametersAndMeasuresFidelity()
    {
        var (model, images) = Trained.Value;
        var (pruned, report) = ImagePrunePipeline.ApplyStructured(model, images.Take(50), new PruneRun { Structured = true, Ratio = 0.5 });
        Assert.True(report.After.Parameters < report.Before.Parameters);
        Assert.Equal(1 - (double)report.After.Parameters / report.Before.Parameters, report.Sparsity, 9);
        Assert.NotEmpty(report.StructuralChanges!);
        var direct = ImageEvaluation.Compare(ImageEvaluation.Outputs(pruned, images.Take(50)), ImageEvaluation.Outputs(model, images.Take(50)));
        Assert.Equal(direct.CosineMean, report.After.Fidelity!.CosineMean, 9);
    }

    [Fact]
    public void MagnitudePruningZeroesTheRequestedShare()
    {
        var (model, images) = Trained.Value;
        var (_, report) = ImagePrunePipeline.Apply(model, images.Take(30), new PruneOptions { Sparsity = 0.6 });
        Assert.InRange(report.Sparsity, 0.55, 0.65);
        Assert.True(report.After.Fidelity!.CosineMean < 1);
        Assert.Equal(report.Before.Parameters, report.After.Parameters);
    }

    // What ran the timings: a float model "float"; a static int8 graph that no integer engine takes (a Tanh between its
    // Linear layers) but whose Gemms run on the integer GEMM (QuantizeMatMul) "integer Linear layers".
    [Fact]
    public void TheMetricsNameTheEngine()
    {
        var images = Trained.Value.Images.Take(32);
        var graph = new LayerGraphs([1, 28, 28], 12).Op("flat", OpTypes.Flatten).Gemm("fc1", 784, 16, spread: 0).Op("tanh", OpTypes.Tanh)
            .Gemm("fc2", 16, 10, spread: 0).Build();
        var model = new GraphModule(graph);
        Assert.Equal("float", ImageEvaluation.Measure(model, null, images, null, timingSeconds: 0.01).Engine);
        var quantized = Quantizer.Quantize(model, images, new QuantizeOptions()).Model;
        var compiled = InferenceEngine.Compile(quantized);
        Assert.False(compiled.IsInteger, compiled.Kind.ToString());
        Assert.Equal("integer Linear layers", ImageEvaluation.Measure(quantized, model, images, null, timingSeconds: 0.01).Engine);
    }
}
