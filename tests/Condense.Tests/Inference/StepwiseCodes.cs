// The step-by-step check of the integer conv engine against the float simulation of its QDQ graph: each step is fed the
// simulation's codes (IntegerConvModel.ForwardStepwise), so rounding cannot accumulate, and every code it writes must be
// within one quantization step of the simulation's, 99 % of them equal (ties of round-half-even against the float's own
// rounding move a few).
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Tensors;
using Xunit.Abstractions;

namespace Condense.Tests.Inference;

internal static class StepwiseCodes
{
    /// <summary>Fixtures/onnx/NAME-op13.onnx quantized static, calibrated on <paramref name="x"/> (N, C, H, W).</summary>
    public static GraphModule QuantizedFixture(string name, Tensor x)
    {
        var model = ModelFile.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name + "-op13.onnx"));
        var calibration = new Dataset(x.Data, null, x.Shape[1..]);
        return Quantizer.Quantize(model, calibration, new QuantizeOptions { CalibrationSamples = x.Shape[0] }).Model;
    }

    /// <summary>Every value of the quantized graph (its float simulation) for <paramref name="x"/>.</summary>
    public static Dictionary<string, Tensor> Simulate(GraphModule quantized, Tensor x)
    {
        quantized.Eval();
        using (GradMode.NoGrad()) return quantized.Run(x);
    }

    /// <summary>Asserts the engine's codes against <paramref name="simulation"/> (the QDQ graph's values for <paramref name="x"/>).</summary>
    public static void AssertWithinOneStep(IntegerConvModel engine, Tensor x, IReadOnlyDictionary<string, Tensor> simulation, ITestOutputHelper output)
    {
        long exact = 0, total = 0;
        foreach (var (value, codes) in engine.ForwardStepwise(x, simulation))
        {
            var expected = simulation[value].Data;
            Assert.Equal(expected.Length, codes.Length);
            for (int i = 0; i < codes.Length; i++)
            {
                int diff = Math.Abs(codes[i] - (int)expected[i]);
                Assert.True(diff <= 1, $"{value}[{i}]: engine {codes[i]}, simulation {expected[i]}");
                exact += diff == 0 ? 1 : 0;
            }
            total += codes.Length;
        }
        output.WriteLine($"step by step: {exact} of {total} codes equal the simulation's, the others one step away");
        Assert.True(exact >= 0.99 * total, $"only {exact} of {total} codes equal");
    }

    /// <summary>
    /// Asserts the engine's logits end to end: within 2 % of the simulation's largest on <paramref name="x"/>, and within 2 % of
    /// PyTorch's largest on the fixture's own input (Fixtures/onnx/NAME.input.npy, NAME.expected.npy).
    /// </summary>
    public static void AssertLogitsNear(IntegerConvModel engine, Tensor x, IReadOnlyDictionary<string, Tensor> simulation, string outputName,
        string name, ITestOutputHelper output)
    {
        var logits = engine.Forward(x).Data;
        var expected = simulation[outputName].Data;
        float largest = expected.Max(Math.Abs);
        double worst = logits.Select((v, i) => Math.Abs(v - expected[i])).Max();
        output.WriteLine($"{name}: logits within {worst / largest:P2} of the simulation's largest");
        Assert.True(worst <= 0.02 * largest, $"the logits differ from the simulation's by {worst} (largest {largest})");

        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx");
        var array = Npy.Read(Path.Combine(dir, name + ".input.npy"));
        var torch = Npy.Read(Path.Combine(dir, name + ".expected.npy")).ToFloat();
        var ours = engine.Forward(new Tensor(array.ToFloat(), array.Shape)).Data;
        double error = ours.Select((v, i) => Math.Abs(v - torch[i])).Max(), scale = torch.Max(v => Math.Abs(v));
        output.WriteLine($"{name}: int8 logits within {error / scale:P2} of PyTorch's largest");
        Assert.True(error <= 0.02 * scale, $"the int8 logits differ from PyTorch's by {error} (largest {scale})");
    }
}
