// Quantization-aware training: the float weights train through Q/DQ (straight-through), recover
// accuracy that post-training quantization lost, and Convert gives integer weights computing the same.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Quantization;
using Condense.Training;

namespace Condense.Tests.Quantization;

public class QatTests
{
    [Fact]
    public void FineTuningThroughFakeQuantizationRecoversAccuracyAndConvertsExactly()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var net = ModelSpec.Parse("mlp:784-40-20-10").Build(11);
        Trainer.Fit(net, train.Take(2000), null, new TrainOptions { Epochs = 3, Seed = 11 });
        var model = new GraphModule(GraphTracer.Trace(net, train.SampleShape));
        var evalSet = test.Take(1000);
        var options = new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 2 };

        float ptq = Evaluator.Evaluate(Quantizer.Quantize(model, train, options).Model, evalSet).Accuracy;
        var (qat, _) = Quantizer.Quantize(model, train, options with { KeepFloatWeights = true });
        Assert.Contains(qat.Graph.Nodes, n => n.OpType == "QuantizeLinear" && qat.Graph.Trainable.Contains(n.Inputs[0]));
        float before = Evaluator.Evaluate(qat, evalSet).Accuracy;
        Assert.Equal(ptq, before); // same fake quantization before training
        Trainer.Fit(qat, train.Take(2000), null, new TrainOptions { Epochs = 2, LearningRate = 0.01f, Seed = 3 });
        float after = Evaluator.Evaluate(qat, evalSet).Accuracy;
        Assert.True(after > ptq + 0.01f, $"QAT {after:P2} should beat 2-bit PTQ {ptq:P2}");

        var converted = Quantizer.Convert(qat);
        Assert.DoesNotContain(converted.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        Assert.DoesNotContain(converted.Graph.Trainable, t => t.EndsWith(".weight", StringComparison.Ordinal));
        Assert.Equal(ElementType.Int4, converted.Graph.TypeOf("1.weight.quantized"));
        Assert.All(converted.Graph.Initializers["1.weight.quantized"].Data, v => Assert.InRange(v, -1f, 1f));
        var x = evalSet.Batch([0, 1, 2, 3, 4]);
        qat.Eval(); converted.Eval();
        using var _ = GradMode.NoGrad();
        Assert.Equal(qat.Forward(x).Data, converted.Forward(x).Data);
    }
}
