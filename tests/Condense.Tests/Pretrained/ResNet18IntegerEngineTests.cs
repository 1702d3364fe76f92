// ResNet-18 (ML.NET's CNTK export, batch made dynamic) quantized static as the image-compress bench does it (calibrated on
// data/images/calibration through ResNetPreprocess.onnx) runs on the integer conv engine — every Conv, the residual Adds
// requantized in integers except the last (its sum goes on to the average pooling in float) — and matches the float
// simulation of its QDQ graph step by step (each step fed the simulation's codes: within one step, 99 % equal), and end to
// end the simulation and ONNX Runtime on the exported file in the 512-d features of held-out photos (cosine).
using Condense.Autograd;
using Condense.Data;
using Condense.Data.Images;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Reports;
using Condense.Tensors;
using Condense.Tests.Inference;
using Condense.Tests.Data;
using Condense.Tests.Onnx;
using Xunit.Abstractions;

namespace Condense.Tests.Pretrained;

public sealed class ResNet18IntegerEngineTests(ITestOutputHelper output)
{
    private static Dataset Photos(string folder)
    {
        var preprocess = ModelFile.Load(PretrainedModels.ResNetPreprocessOnnx);
        var pixels = ImagePreprocessing.Preset("none") with { PixelScale = 255 };
        return ImageEvaluation.Transform(preprocess, ImageFolder.Load(Path.Combine(TestFiles.RepoRoot(), "data", "images", folder), pixels).Dataset);
    }

    [Fact]
    public void StaticInt8ResNet18RunsOnTheIntegerEngineAndMatchesTheSimulationAndOnnxRuntime()
    {
        var model = BatchDimension.MakeDynamic(ModelFile.Load(PretrainedModels.ResNet18Onnx));
        var calibration = Photos("calibration");
        string input = model.Graph.Inputs[0].Name;
        var qdq = Quantizer.Quantize(model, new QuantizeOptions { Mode = QuantizationMode.Static }, () => calibration.Feeds(input, 8)).Model;

        var compiled = InferenceEngine.Compile(qdq);
        Assert.True(compiled.Kind == EngineKind.IntegerConv, compiled.FallbackReason);
        var engine = (IntegerConvModel)compiled.Runner;
        Assert.Equal(qdq.Graph.Nodes.Count(n => n.OpType == "Conv"), engine.LayerCount);
        var adds = engine.Steps.OfType<IntegerConvModel.AddStep>().ToList();
        Assert.Equal(qdq.Graph.Nodes.Count(n => n.OpType == "Add"), adds.Count);
        Assert.Equal(adds.Count - 1, adds.Count(a => a.Requantized));
        Assert.False(adds[^1].Requantized);

        var heldout = Photos("heldout");
        var x = new Tensor(heldout.Batch([0, 7, 14, 21]).Data, [4, .. heldout.SampleShape]);
        qdq.Eval();
        Dictionary<string, Tensor> sim;
        using (GradMode.NoGrad()) sim = qdq.Run(x);
        StepwiseCodes.AssertWithinOneStep(engine, x, sim, output);

        var ours = engine.Forward(x);
        var features = sim[qdq.Graph.Outputs[0].Name];
        var ort = TypedParity.RunOnnxRuntime(OnnxExporter.ToModel(qdq.Graph), [(input, x)])[qdq.Graph.Outputs[0].Name];
        int size = ours.Size / 4;
        for (int i = 0; i < 4; i++)
        {
            var row = ours.Data.AsSpan(i * size, size).ToArray();
            double toSimulation = Fidelity.Cosine(row, features.Data.AsSpan(i * size, size).ToArray());
            double toOrt = Fidelity.Cosine(row, ort.Data.AsSpan(i * size, size).ToArray());
            output.WriteLine($"photo {i}: cosine to the simulation {toSimulation:F5}, to ONNX Runtime {toOrt:F5}");
            Assert.True(toSimulation >= 0.995 && toOrt >= 0.995, $"photo {i}: cosine {toSimulation} to the simulation, {toOrt} to ORT");
        }
    }
}
