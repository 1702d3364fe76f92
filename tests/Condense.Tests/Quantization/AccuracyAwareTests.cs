// Accuracy-aware quantization: with a budget that full quantization misses, the most sensitive layers
// go back to float until the budget holds, and the report says which and whether the target was met.
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Quantization;
using Condense.Training;

namespace Condense.Tests.Quantization;

public class AccuracyAwareTests
{
    private static (GraphModule, Dataset, Dataset) Model()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var net = ModelSpec.Parse("mlp:784-40-20-10").Build(9);
        Trainer.Fit(net, train.Take(2000), null, new TrainOptions { Epochs = 3, Seed = 9 });
        return (new GraphModule(GraphTracer.Trace(net, train.SampleShape)), train, test.Take(600));
    }

    [Fact]
    public void SensitiveLayersStayFloatUntilTheBudgetHolds()
    {
        var (model, train, test) = Model();
        // 2-bit weights lose a lot; a 1-point budget forces some layers back to float.
        var options = new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 2, MaxAccuracyDrop = 0.01 };
        var (quantized, report) = QuantizePipeline.Apply(model, train, test, options);
        Assert.NotNull(report.TargetMet);
        Assert.NotNull(report.Sensitivities);
        Assert.Equal(3, report.Sensitivities!.Count);
        // Sensitivities are sorted, most damaging first, and each was measured with that layer alone quantized.
        Assert.True(report.Sensitivities.Zip(report.Sensitivities.Skip(1)).All(p => p.First.Drop >= p.Second.Drop));
        Assert.NotEmpty(report.FloatLayers);
        Assert.Equal(report.Sensitivities[0].Weight, report.FloatLayers[0]);
        Assert.True(report.Layers.Count >= 1);
        float accuracy = Evaluator.Evaluate(quantized, test).Accuracy;
        Assert.Equal(report.AccuracyAfter, accuracy);
        if (report.TargetMet == true) Assert.True(report.AccuracyBefore - accuracy <= 0.01f + 1e-6f);
    }

    [Fact]
    public void AGenerousBudgetQuantizesEverything()
    {
        var (model, train, test) = Model();
        var (_, report) = QuantizePipeline.Apply(model, train, test, new QuantizeOptions { MaxAccuracyDrop = 0.05, CalibrationSamples = 300 });
        Assert.True(report.TargetMet);
        Assert.Empty(report.FloatLayers);
        Assert.Null(report.Sensitivities);
    }
}
