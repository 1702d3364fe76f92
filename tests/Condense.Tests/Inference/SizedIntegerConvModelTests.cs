// A static-quantized CNN whose input leaves height and width free (a fully convolutional [N, 3, H, W] network: two 3×3
// convolutions with ReLU, the second of stride 2, a residual add, global average pooling and a Gemm head) runs on the
// integer engine at every size it is fed: each size's outputs are, bit for
// bit, those of the integer engine compiled for a graph declaring that size, and within a few quantization steps of the
// QDQ graph's float simulation. A batch of another rank goes to the float simulation, which says what is wrong.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Inference;

public sealed class SizedIntegerConvModelTests
{
    private static GraphModule QuantizedFreeSizeCnn()
    {
        var rng = new Rng(5);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, -1, -1]));
        void Weight(string name, params int[] shape)
        {
            graph.Initializers[name] = Tensor.Uniform(rng, -0.4f, 0.4f, shape);
            graph.Trainable.Add(name);
        }
        Weight("w1", 8, 3, 3, 3); Weight("b1", 8); Weight("w2", 8, 8, 3, 3); Weight("b2", 8); Weight("w3", 8, 8, 3, 3); Weight("b3", 8);
        Weight("fc", 5, 8); Weight("fcb", 5);
        var same = new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints([1, 1, 1, 1]) };
        var strided = new Dictionary<string, AttributeValue> { ["pads"] = AttributeValue.Ints([1, 1, 1, 1]), ["strides"] = AttributeValue.Ints([2, 2]) };
        graph.Nodes.AddRange(
        [
            new Node("c1", OpTypes.Conv, ["x", "w1", "b1"], ["h1"], same), new Node("r1", OpTypes.Relu, ["h1"], ["a1"]),
            new Node("c2", OpTypes.Conv, ["a1", "w2", "b2"], ["h2"], strided), new Node("r2", OpTypes.Relu, ["h2"], ["a2"]),
            new Node("c3", OpTypes.Conv, ["a2", "w3", "b3"], ["h3"], same), new Node("add", OpTypes.Add, ["h3", "a2"], ["s"]),
            new Node("r3", OpTypes.Relu, ["s"], ["a3"]), new Node("gap", OpTypes.GlobalAveragePool, ["a3"], ["p"]),
            new Node("flat", OpTypes.Flatten, ["p"], ["f"]),
            new Node("head", OpTypes.Gemm, ["f", "fc", "fcb"], ["y"], new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) }),
        ]);
        graph.Outputs.Add(new ValueInfo("y", [-1, 5]));
        var calibration = new Dataset(Tensor.Uniform(new Rng(3), -1f, 1f, 16, 3, 12, 12).Data, null, [3, 12, 12]);
        return Quantizer.Quantize(new GraphModule(graph), calibration, new QuantizeOptions()).Model;
    }

    private static Tensor Run(Condense.Nn.Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    [Fact]
    public void EachImageSizeRunsOnTheIntegerEngineCompiledForIt()
    {
        var quantized = QuantizedFreeSizeCnn();
        var compiled = InferenceEngine.Compile(quantized);
        Assert.True(compiled.Kind == EngineKind.IntegerConv, compiled.FallbackReason);
        var sized = Assert.IsType<SizedIntegerConvModel>(compiled.Runner);
        foreach (var (h, w) in new[] { (12, 12), (20, 16), (12, 12) })
        {
            var x = Tensor.Uniform(new Rng((ulong)(h * w)), -1f, 1f, 2, 3, h, w);
            var pinned = quantized.Graph.Clone();
            pinned.Inputs[0] = pinned.Inputs[0] with { Shape = [-1, 3, h, w] };
            var expected = Run(IntegerConvModel.Compile(pinned), x);
            Assert.Equal(expected.Data, Run(sized, x).Data);
            Graph.TensorAsserts.Close(Run(quantized, x), expected, 0.1f);
        }
        // The probe size (224 × 224) and the two sizes fed.
        Assert.Equal(3, sized.CompiledSizes);
        var flat = Assert.ThrowsAny<CondenseException>(() => Run(sized, Tensor.Zeros(2, 432)));
        Assert.Contains("does not fit", flat.Message);
    }
}
