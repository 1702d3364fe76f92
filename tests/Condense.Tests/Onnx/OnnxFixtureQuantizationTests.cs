// The issues' fixture check: PyTorch's mlp128 and LeNet-5 exports, each quantized static int8 (256
// calibration images of the embedded MNIST) and exported as QDQ ONNX, lose at most 0.5 points of accuracy
// when the float original and the int8 model are both evaluated by ONNX Runtime on the embedded MNIST
// test set (2,000 images).
using Condense.Data;
using Condense.Onnx;
using Condense.Quantization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace Condense.Tests.Onnx;

public class OnnxFixtureQuantizationTests(ITestOutputHelper output)
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    [Theory]
    [InlineData("mlp128.onnx", 0.9565)]   // PyTorch's own accuracy of each model on these images
    [InlineData("lenet5.onnx", 0.9740)]
    public void StaticInt8LosesAtMostHalfAPointInOnnxRuntime(string fixture, double pytorchAccuracy)
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = OnnxImporter.Load(Fixture(fixture));
        var (quantized, _) = Quantizer.Quantize(model, train, new QuantizeOptions { CalibrationSamples = 256 });
        byte[] int8 = OnnxExporter.ToBytes(quantized.Graph);
        Assert.Contains(global::Onnx.ModelProto.Parser.ParseFrom(int8).Graph.Node, n => n.OpType == "QuantizeLinear");

        double floatAccuracy = OrtAccuracy(File.ReadAllBytes(Fixture(fixture)), test, model.Graph.Inputs[0].Shape);
        double int8Accuracy = OrtAccuracy(int8, test, quantized.Graph.Inputs[0].Shape);
        output.WriteLine($"{fixture}: ONNX Runtime accuracy on {test.Count} embedded MNIST test images: float {floatAccuracy:P2}, int8 QDQ {int8Accuracy:P2}");
        Assert.Equal(2000, test.Count);
        Assert.InRange(floatAccuracy, pytorchAccuracy - 0.0005, pytorchAccuracy + 0.0005);
        Assert.True(int8Accuracy >= floatAccuracy - 0.005, $"int8 {int8Accuracy:P2} vs float {floatAccuracy:P2}");
    }

    // The model run by ONNX Runtime on the whole dataset, rows shaped to its declared input (N×784 or N×1×28×28).
    private static double OrtAccuracy(byte[] onnx, Dataset data, int[] declared)
    {
        using var session = new InferenceSession(onnx);
        var indices = Enumerable.Range(0, data.Count).ToArray();
        int[] shape = [data.Count, .. declared[1..]];
        var input = NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(data.Batch(indices).Data, shape));
        using var results = session.Run([input]);
        var logits = results.First().AsEnumerable<float>().ToArray();
        int classes = logits.Length / data.Count, correct = 0;
        var labels = data.BatchLabels(indices);
        for (int i = 0; i < data.Count; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            if (row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row)) == labels[i]) correct++;
        }
        return correct / (double)data.Count;
    }
}
