// Which weights a histogram shows: the float weights of a model's linear layers as stored, and after quantization
// the integer codes behind each DequantizeLinear, the largest layer first by size.
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Plots;
using Condense.Quantization;

namespace Condense.Tests.Plots;

public sealed class ModelWeightsTests
{
    [Fact]
    public void FloatWeightsThenIntegerCodesAfterQuantization()
    {
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("mlp:784-32-10").Build(3), [784]));
        var layers = ModelWeights.Of(model.Graph);
        Assert.Equal(2, layers.Count);
        Assert.All(layers, l => Assert.Null(l.Codes));
        Assert.Equal(784 * 32, ModelWeights.Largest(model.Graph)!.Values.Length);
        Assert.Equal(model.Graph.Initializers[layers[0].Tensor].Data, layers[0].Values);

        var (train, _) = Mnist.LoadEmbedded();
        var quantized = Quantizer.Quantize(model, train.Take(64), new QuantizeOptions()).Model.Graph;
        var largest = ModelWeights.Largest(quantized)!;
        Assert.Equal(ElementType.Int8, largest.Codes);
        Assert.Equal(784 * 32, largest.Values.Length);
        Assert.All(largest.Values, v => Assert.True(v == MathF.Round(v) && v >= -128 && v <= 127));
        Assert.True(largest.Values.Distinct().Count() > 100, "int8 codes use many levels");
    }
}
