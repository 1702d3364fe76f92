// The issues' fixture checks: PyTorch's mlp128 (and LeNet-5) export, quantized static int8 (256 calibration images of
// the embedded MNIST) and exported as QDQ ONNX, loses at most 0.5 points of accuracy when both the float
// original and the int8 model are evaluated by ONNX Runtime on the embedded MNIST test set (2,000 images).
using Condense.Data;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Xunit.Abstractions;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public class OnnxFixtureQuantizationTests(ITestOutputHelper output)
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    [Fact]
    public void Mlp128StaticInt8LosesAtMostHalfAPointInOnnxRuntime()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = OnnxImporter.Load(Fixture("mlp128.onnx"));
        var (quantized, _) = Quantizer.Quantize(model, train, new QuantizeOptions { CalibrationSamples = 256, WeightBits = OrtInt8.WeightBits });
        byte[] int8 = OnnxExporter.ToBytes(quantized.Graph);
        Assert.Contains(global::Onnx.ModelProto.Parser.ParseFrom(int8).Graph.Node, n => n.OpType == "QuantizeLinear");

        double floatAccuracy = OrtAccuracy(File.ReadAllBytes(Fixture("mlp128.onnx")), test);
        double int8Accuracy = OrtAccuracy(int8, test);
        output.WriteLine($"ONNX Runtime accuracy on {test.Count} embedded MNIST test images: float {floatAccuracy:P2}, int8 QDQ {int8Accuracy:P2}");
        Assert.Equal(2000, test.Count);
        Assert.InRange(floatAccuracy, 0.9560, 0.9570); // PyTorch's own accuracy of this model on these images
        Assert.True(int8Accuracy >= floatAccuracy - 0.005, $"int8 {int8Accuracy:P2} vs float {floatAccuracy:P2}");
    }

    [Fact]
    public void LeNet5StaticInt8LosesAtMostHalfAPointInOnnxRuntime()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = OnnxImporter.Load(Fixture("lenet5.onnx"));
        var (quantized, layers) = Quantizer.Quantize(model, train, new QuantizeOptions { CalibrationSamples = 256, WeightBits = OrtInt8.WeightBits });
        Assert.Equal(2, layers.Count(l => quantized.Graph.Nodes.Any(n => n.Name == l.Node && n.OpType == "Conv")));
        byte[] int8 = OnnxExporter.ToBytes(quantized.Graph);

        double floatAccuracy = OrtAccuracy(File.ReadAllBytes(Fixture("lenet5.onnx")), test);
        double int8Accuracy = OrtAccuracy(int8, test);
        // Our integer engine on the same QDQ graph, when it compiles (PyTorch's graph: Conv/Relu/MaxPool/Flatten/Gemm).
        bool compiles = IntegerConvModel.CanCompile(quantized.Graph, out var reason);
        double engineAccuracy = compiles ? Condense.Training.Evaluator.Evaluate(IntegerConvModel.Compile(quantized.Graph), test).Accuracy : double.NaN;
        output.WriteLine($"ONNX Runtime accuracy on {test.Count} embedded MNIST test images: float {floatAccuracy:P2}, int8 QDQ {int8Accuracy:P2}; "
            + $"integer engine {(compiles ? engineAccuracy.ToString("P2") : reason)}");
        Assert.InRange(floatAccuracy, 0.9735, 0.9745); // PyTorch's own accuracy of this model on these images (97.40%)
        Assert.True(int8Accuracy >= floatAccuracy - 0.005, $"int8 {int8Accuracy:P2} vs float {floatAccuracy:P2}");
        Assert.True(compiles, reason);
        Assert.True(Math.Abs(engineAccuracy - int8Accuracy) <= 0.002, $"engine {engineAccuracy:P2} vs ORT {int8Accuracy:P2}");
    }
}
