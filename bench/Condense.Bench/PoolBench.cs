// Pooling and batch norm at LeNet-5 / batch-256 shapes (256 × 6 × 28 × 28): our MaxPool2d(2), AvgPool2d(2)
// and BatchNorm2d (eval) forward beside ONNX Runtime running the same one-layer exports, after checking that
// the outputs agree; then our training-mode steps (forward + backward) alone, which ORT has no peer for.
using Condense.Autograd;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

namespace Condense.Bench;

/// <summary>`pool`: ms per call of pooling and batch norm, ours and ONNX Runtime's, and the ratio.</summary>
internal static class PoolBench
{
    public static int Run(string[] args)
    {
        int[] sample = [6, 28, 28];
        var x = Tensor.Normal(new Rng(1), 0f, 1f, [256, .. sample]);
        var bn = new BatchNorm2d(6);
        Console.WriteLine($"input {Shape.Format(x.Shape)}, {Environment.ProcessorCount} threads");
        Console.WriteLine($"{"layer",-18} {"ours ms",9} {"ORT ms",9} {"ours/ORT",9}");
        foreach (var (name, layer) in new (string, Module)[] { ("MaxPool2d(2)", new MaxPool2d(2)), ("AvgPool2d(2)", new AvgPool2d(2)), ("BatchNorm2d eval", bn) })
        {
            layer.Eval();
            using var session = new InferenceSession(OnnxExporter.ToBytes(layer, sample));
            var input = new DenseTensor(x.Data, x.Shape);
            float[] Ort()
            {
                using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
                return results.Single().AsEnumerable<float>().ToArray();
            }
            Tensor Ours() { using (GradMode.NoGrad()) return layer.Forward(x); }
            var expected = Ort();
            var actual = Ours().Data;
            for (int i = 0; i < actual.Length; i++)
                if (MathF.Abs(actual[i] - expected[i]) > 1e-4f * (1 + MathF.Abs(expected[i])))
                    throw new InvalidOperationException($"{name}: output {i} is {actual[i]}, ORT says {expected[i]}");
            double ours = Timing.MeasureSeconds(() => Ours()), ort = Timing.MeasureSeconds(() => Ort());
            Console.WriteLine($"{name,-18} {ours * 1e3,9:F3} {ort * 1e3,9:F3} {ours / ort,9:F2}");
        }
        bn.Train();
        foreach (var (name, layer) in new (string, Module)[] { ("MaxPool2d(2) train", new MaxPool2d(2)), ("BatchNorm2d train", bn) })
        {
            var input = x.Clone();
            input.RequiresGrad = true;
            double seconds = Timing.MeasureSeconds(() => { layer.Forward(input).Sum().Backward(); input.ClearGrad(); });
            Console.WriteLine($"{name,-18} {seconds * 1e3,9:F3} {"(fwd+bwd)",9}");
        }
        return 0;
    }
}
