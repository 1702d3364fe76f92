// Nagel et al.'s data-free methods on a real network, ResNet-18 (CNTK export: Conv + BatchNormalization + Relu, residual Adds):
// after batch-norm folding, cross-layer equalization pairs the two convs inside each of its nine blocks (every other conv
// feeds a residual Add or the max pool) and keeps the outputs within 1e-5 of their largest; static int8 per-channel
// quantization with bias correction is at least as close to the float model (cosine of the 512 features) as without.
// Inputs are random images in the model's range (BGR 0–255 minus a mean of about 120).
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Quantization;

namespace Condense.Tests.Pretrained;

public class ResNet18DataFreeTests
{
    private static readonly Lazy<GraphModule> Folded =
        new(() => BatchNormFolding.Fold(new GraphModule(OnnxImporter.Import(PretrainedModels.ResNet18Onnx))).Model);

    private static Tensor Images(ulong seed, int count) => Tensor.Uniform(new Rng(seed), -120, 135, count, 3, 224, 224);

    [Fact]
    public void EqualizationPairsTheConvsInsideEachBlockAndKeepsTheOutputs()
    {
        var model = Folded.Value;
        var (equalized, report) = CrossLayerEqualization.Apply(model.Graph);
        Assert.Equal(9, report.Equalized.Count);
        Assert.All(report.Equalized, p => Assert.Equal("Relu", p.Activation));
        Assert.Equal(22 - 9, report.Skipped.Count);
        Assert.Contains(report.Skipped, s => s.Reason.Contains("MaxPool"));
        CrossLayerEqualizationTests.AssertSameOutputs(model.Graph, equalized, Images(1, 2));
    }

    [Fact]
    public void BiasCorrectionDoesNotMoveTheQuantizedModelAwayFromTheFloatOne()
    {
        var model = Folded.Value;
        string input = model.Graph.Inputs[0].Name;
        IEnumerable<IReadOnlyDictionary<string, Tensor>> Calibration() =>
            Enumerable.Range(0, 2).Select(b => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [input] = Images(10 + (ulong)b, 4) });
        var options = new QuantizeOptions();
        var (plain, _) = Quantizer.Quantize(model, options, Calibration);
        var (corrected, layers) = Quantizer.Quantize(model, options with { BiasCorrection = true }, Calibration);
        Assert.Equal(22, layers.Count(l => l.BiasCorrection is not null));

        var x = Images(20, 4);
        double before = Cosine(model, plain, x), after = Cosine(model, corrected, x);
        Assert.True(after >= before, $"cosine to the float model {before:F6} without bias correction, {after:F6} with");
    }

    // The mean cosine of each image's output features to the float model's.
    private static double Cosine(GraphModule reference, GraphModule model, Tensor x)
    {
        using var _ = GradMode.NoGrad();
        reference.Eval();
        model.Eval();
        var a = reference.Forward(x).Data;
        var b = model.Forward(x).Data;
        int n = x.Shape[0], size = a.Length / n;
        return Enumerable.Range(0, n).Average(i =>
        {
            double dot = 0, na = 0, nb = 0;
            for (int k = i * size; k < (i + 1) * size; k++) { dot += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
            return dot / Math.Sqrt(na * nb);
        });
    }
}
