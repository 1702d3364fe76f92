// Pooling and batch norm at LeNet-5 and ResNet shapes: our MaxPool2d(2), AvgPool2d(2), GlobalAvgPool and
// BatchNorm2d (eval) forward beside ONNX Runtime running the same one-layer exports, after checking that
// the outputs agree, at batch 256 and batch 1; then our training-mode steps (forward + backward) alone,
// which ORT has no peer for.
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
        // `pool [threads] [filter]`: the kernels' thread budget (ORT keeps its default), and the cases whose name contains filter.
        if (args.Length > 0) Condense.Kernels.Platform.Cpu.Threads = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
        string filter = args.Length > 1 ? args[1] : "";
        Console.WriteLine($"{Condense.Kernels.Platform.Cpu.Threads} threads");
        Console.WriteLine($"{"layer",-20} {"input",-16} {"ours ms",9} {"ORT ms",9} {"ours/ORT",9}");
        foreach (var (name, layer, shape) in InferenceCases().Where(c => c.Item1.Contains(filter, StringComparison.Ordinal)))
            Compare(name, layer, shape);
        foreach (var (name, layer, shape) in TrainingCases().Where(c => c.Item1.Contains(filter, StringComparison.Ordinal)))
        {
            layer.Train();
            var input = Tensor.Normal(new Rng(2), 0f, 1f, shape);
            input.RequiresGrad = true;
            double seconds = Timing.MeasureSeconds(() => { layer.Forward(input).Sum().Backward(); input.ClearGrad(); });
            Console.WriteLine($"{name,-20} {Shape.Format(shape),-16} {seconds * 1e3,9:F3} {"(fwd+bwd)",9}");
        }
        return 0;
    }

    private static IEnumerable<(string, Module, int[])> InferenceCases()
    {
        foreach (int batch in new[] { 256, 1 })
        {
            yield return ("MaxPool2d(2)", new MaxPool2d(2), [batch, 6, 28, 28]);
            yield return ("MaxPool2d(2)", new MaxPool2d(2), [batch, 16, 10, 10]);
            yield return ("AvgPool2d(2)", new AvgPool2d(2), [batch, 6, 28, 28]);
            yield return ("BatchNorm2d eval", Trained(new BatchNorm2d(6)), [batch, 6, 28, 28]);
            yield return ("BatchNorm2d eval", Trained(new BatchNorm2d(16)), [batch, 16, 28, 28]);
            yield return ("GlobalAvgPool", new GlobalAvgPool2d(), [batch, 64, 7, 7]);
        }
    }

    private static IEnumerable<(string, Module, int[])> TrainingCases()
    {
        yield return ("MaxPool2d(2) train", new MaxPool2d(2), [256, 6, 28, 28]);
        yield return ("AvgPool2d(2) train", new AvgPool2d(2), [256, 6, 28, 28]);
        yield return ("BatchNorm2d train", new BatchNorm2d(6), [256, 6, 28, 28]);
        yield return ("BatchNorm2d train", new BatchNorm2d(16), [256, 16, 28, 28]);
        yield return ("GlobalAvgPool train", new GlobalAvgPool2d(), [256, 64, 7, 7]);
    }

    // Non-trivial running statistics and affine parameters, so that eval is not the identity.
    private static BatchNorm Trained(BatchNorm bn)
    {
        var rng = new Rng(7);
        foreach (var t in new[] { bn.RunningMean, bn.Weight, bn.Bias })
            Tensor.Normal(rng, 0f, 1f, t.Shape).Data.CopyTo(t.Data, 0);
        for (int i = 0; i < bn.RunningVar.Size; i++) bn.RunningVar.Data[i] = 0.5f + i % 3;
        return bn;
    }

    private static void Compare(string name, Module layer, int[] shape)
    {
        layer.Eval();
        var x = Tensor.Normal(new Rng(1), 0f, 1f, shape);
        using var session = new InferenceSession(OnnxExporter.ToBytes(layer, shape[1..]));
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
        Console.WriteLine($"{name,-20} {Shape.Format(shape),-16} {ours * 1e3,9:F3} {ort * 1e3,9:F3} {ours / ort,9:F2}");
    }
}
