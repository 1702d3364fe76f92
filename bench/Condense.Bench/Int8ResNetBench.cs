// ResNet-18 statically quantized (QDQ, calibrated on data/images/calibration as image-compress's "int8" variant) run by
// our integer engine against the same QDQ file in ONNX Runtime: which engine compiles it, its features against the float
// simulation of the QDQ graph and against ORT on data/images/heldout (cosine mean / min, largest difference), then the
// time per call at batch 1 and 8 (batch dimension made dynamic), ours vs ORT on --threads (2) without spinning, interleaved,
// best of --rounds, and the ratio ORT/ours (> 1: ours faster). --steps prints the time of each engine step instead
// (Int8ResNetProfile.cs).
//   dotnet run -c Release --project bench/Condense.Bench -- int8-resnet [--nodes] [--rounds 7] [--qdq cached.onnx] [--float] [--steps] [--threads 2]
//     [--weight-bits 7|8] (default 8 with a VNNI dot product, else 7)
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data;
using Condense.Data.Images;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Reports;
using Condense.Tensors;
using Condense.Tests.Pretrained;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

internal static class Int8ResNetBench
{
    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        int rounds = int.Parse(Option("--rounds", "7"), System.Globalization.CultureInfo.InvariantCulture);
        string root = TextSpeedBench.RepoRoot();
        var preprocess = ModelFile.Load(PretrainedModels.ResNetPreprocessOnnx);
        var pixels = ImagePreprocessing.Preset("none") with { PixelScale = 255 };
        Dataset Photos(string folder) => ImageEvaluation.Transform(preprocess,
            ImageFolder.Load(Path.Combine(root, "data", "images", folder), pixels).Dataset);
        var heldout = Photos("heldout");
        // 7-bit weights without a VNNI dot product, as `real` quantizes them (so that vpmaddubsw is exact: Int8Dot.MaddubsQuads).
        int weightBits = RealBench.WeightBits(args);
        string path = Option("--qdq", Path.Combine(Path.GetTempPath(), $"condense-int8-resnet18.w{weightBits}.qdq.onnx"));
        if (!File.Exists(path))
        {
            var model = BatchDimension.MakeDynamic(ModelFile.Load(PretrainedModels.ResNet18Onnx));
            var calibration = Photos("calibration");
            string input = model.Graph.Inputs[0].Name;
            var clock = Stopwatch.StartNew();
            var quantizeOptions = new QuantizeOptions { Mode = QuantizationMode.Static, WeightBits = weightBits };
            var quantized = Quantizer.Quantize(model, quantizeOptions, () => calibration.Feeds(input, 8)).Model;
            ModelFile.Save(quantized.Graph, path);
            Console.WriteLine($"quantized in {clock.Elapsed.TotalSeconds:F0} s → {path}");
        }
        var qdq = ModelFile.Load(path);
        if (args.Contains("--nodes"))
            foreach (var node in qdq.Graph.Nodes)
                Console.WriteLine($"  {node.OpType,-20} {node.Name}  ({string.Join(", ", node.Inputs)}) → {string.Join(", ", node.Outputs)}");
        // --float: the float simulation of the QDQ graph as "ours" (what ran before the integer engine took residual networks).
        var compiled = args.Contains("--float") ? new CompiledModel(qdq, EngineKind.Float, "--float") : InferenceEngine.Compile(qdq);
        Console.WriteLine($"{weightBits}-bit weights; engine: {compiled.Kind}{(compiled.FallbackReason is { } r ? " — " + r : "")}");
        int threads = int.Parse(Option("--threads", "2"), System.Globalization.CultureInfo.InvariantCulture);
        Condense.Kernels.Platform.Cpu.Threads = threads;
        if (args.Contains("--steps") && compiled.Runner is IntegerConvModel engine)
        {
            foreach (int batch in new[] { 1, 8 }) Int8ResNetProfile.Print(engine, Images(heldout, 0, batch), rounds);
            return 0;
        }

        var simulation = ImageEvaluation.Outputs(qdq, heldout);
        var ours = ImageEvaluation.Outputs(compiled.Runner, heldout);
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(path, options);
        var ort = new ImageOutputs(Enumerable.Range(0, heldout.Count).Select(i => Ort(session, Images(heldout, i, 1)).Data).ToArray(), simulation.SampleShape);
        Report("ours vs float simulation", ours, simulation);
        Report("ours vs ORT", ours, ort);
        Report("ORT vs float simulation", ort, simulation);

        Console.WriteLine($"{"batch",6} {"ours ms",9} {"ORT ms",9} {"ORT/ours",9}");
        foreach (int batch in new[] { 1, 8 })
        {
            var x = Images(heldout, 0, batch);
            double bestOurs = double.MaxValue, bestOrt = double.MaxValue;
            for (int round = 0; round <= rounds; round++)
            {
                double a = Milliseconds(() => Forward(compiled.Runner, x)), b = Milliseconds(() => Ort(session, x));
                if (round > 0) (bestOurs, bestOrt) = (Math.Min(bestOurs, a), Math.Min(bestOrt, b));
            }
            Console.WriteLine($"{batch,6} {bestOurs,9:F2} {bestOrt,9:F2} {bestOrt / bestOurs,9:F2}");
        }
        return 0;
    }

    internal static Tensor Images(Dataset images, int start, int count) =>
        new(images.Batch(Enumerable.Range(start, count).ToArray()).Data, [count, .. images.SampleShape]);

    private static void Report(string what, ImageOutputs a, ImageOutputs b)
    {
        var fidelity = ImageEvaluation.Compare(a, b);
        double largest = b.Rows.SelectMany(r => r).Max(v => Math.Abs(v));
        double difference = a.Rows.Zip(b.Rows, (x, y) => x.Zip(y, (u, v) => Math.Abs(u - v)).Max()).Max();
        Console.WriteLine($"{what,-26} cos mean {fidelity.CosineMean:F6} min {fidelity.CosineMin:F6}  max |Δ| {difference:G3} (largest {largest:G3})");
    }

    private static Tensor Forward(Condense.Nn.Module runner, Tensor x)
    {
        using var _ = GradMode.NoGrad();
        return runner.Forward(x);
    }

    private static Tensor Ort(InferenceSession session, Tensor x)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(x.Data, x.Shape.Select(d => (long)d).ToArray());
        using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
        using var results = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
        var output = results[0];
        return new Tensor(output.GetTensorDataAsSpan<float>().ToArray(), output.GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray());
    }

    private static double Milliseconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }
}
