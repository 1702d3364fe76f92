// MobileNetV2 (MobileNetV2Graph.cs: torchvision's layout, random seeded weights) fp32 and static int8 against ONNX Runtime on
// the held-out photos with ImageNet preprocessing, int8 calibrated on data/images/calibration as `quantize --images` does.
using Condense.Data.Images;
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Bench;

internal static partial class RealBench
{
    private static IEnumerable<Case> MobileNetCases(string dir)
    {
        var model = new GraphModule(MobileNetV2Graph.Build());
        string Folder(string name) => Path.Combine(TextSpeedBench.RepoRoot(), "data", "images", name);
        var imagenet = ImagePreprocessing.Preset("imagenet");
        var calibration = ImageFolder.Load(Folder("calibration"), imagenet).Dataset;
        var heldout = ImageFolder.Load(Folder("heldout"), imagenet).Dataset;
        var feeds = new[] { 1, 8 }.Select(b => (b, new Dictionary<string, Tensor>
            { ["input"] = heldout.Batch([.. Enumerable.Range(0, b)]).Reshape([b, 3, 224, 224]) })).ToList();
        string fp32Path = Path.Combine(dir, "mobilenetv2.onnx");
        OnnxExporter.Export(model.Graph, fp32Path);
        yield return new Case("MobileNetV2 fp32 (random weights)", fp32Path, Float(model), feeds, 1e-4, "graph (float)");
        var (options, note) = Int8Options(QuantizationMode.Static);
        var int8 = Quantizer.Quantize(model, options, () => calibration.Feeds("input", 8)).Model;
        string int8Path = Path.Combine(dir, "mobilenetv2-int8.onnx");
        OnnxExporter.Export(int8.Graph, int8Path);
        var compiled = InferenceEngine.Compile(int8);
        yield return new Case($"MobileNetV2 int8 (QDQ{note})", int8Path, Compiled(compiled), feeds,
            double.PositiveInfinity, Describe(compiled), MinCosine: 0.99, FloatPath: fp32Path)
            { Steps = compiled.Runner as IntegerConvModel };
    }
}
