// GraphModule computes a node whose inputs are all frozen initializers (the DequantizeLinear of stored
// int4/int8 weights) once in eval mode and reuses it: the outputs equal a fresh module's, a changed
// integer weight (MarkModified) or a replaced initializer is seen at once, and training mode never caches.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class ConstantFoldingTests
{
    private static GraphModule WeightOnlyInt4()
    {
        var train = Mnist.LoadEmbedded().Train.Take(64);
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("mlp:784-32-10").Build(3), [784]));
        return Quantizer.Quantize(model, train, new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4 }).Model;
    }

    private static float[] Forward(GraphModule model, Tensor x)
    {
        using (GradMode.NoGrad()) return model.Forward(x).Data.ToArray();
    }

    [Fact]
    public void FoldedWeightsAreReusedUntilTheyChange()
    {
        var quantized = WeightOnlyInt4();
        quantized.Eval();
        var x = Tensor.Uniform(new Rng(1), 0f, 1f, 4, 784);
        var first = Forward(quantized, x);
        Assert.Equal(first, Forward(quantized, x));

        // Change one stored integer weight: the next pass must see it, exactly as a fresh module does.
        var weight = quantized.Graph.Initializers.First(p => quantized.Graph.TypeOf(p.Key) == ElementType.Int4).Value;
        for (int i = 0; i < weight.Size; i++) weight.Data[i] = weight.Data[i] >= 7 ? -8 : weight.Data[i] + 1;
        weight.MarkModified();
        var changed = Forward(quantized, x);
        var fresh = new GraphModule(quantized.Graph.Clone());
        fresh.Eval();
        Assert.Equal(Forward(fresh, x), changed);
        Assert.NotEqual(first, changed);

        // Training mode recomputes every node (nothing is folded).
        quantized.Train();
        using (GradMode.NoGrad()) Assert.Equal(changed, quantized.Forward(x).Data);
    }
}
