// The convolutional quantization table in one run (issue 7): LeNet-5 trained on the embedded MNIST
// (default recipe, `--epochs N` to shorten), quantized static int8 per channel (min-max calibration), then
// accuracy on the 2,000 test images in our engines and in ONNX Runtime (QDQ and QOperator files), the file
// sizes, and fp32 vs int8 latency at batch 1 and throughput at batch 256 on both sides, measured in the same
// run. Then batch-norm folding on a trained resnet-mini (`--resnet-epochs`, 0 skips it): predictions of
// the folded and unfolded models on the test set must be identical.
using Condense.Formats;
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Training;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

internal static class QuantCnnBench
{
    public static int Run(string[] args)
    {
        int epochs = Option(args, "--epochs", 15), resnetEpochs = Option(args, "--resnet-epochs", 1);
        var (train, test) = Mnist.LoadEmbedded();
        var spec = Condense.Nn.ModelSpec.Parse("lenet5");
        var net = spec.Build(0);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Trainer.Fit(net, train, null, TrainOptions.For(spec) with { Epochs = epochs });
        Console.WriteLine($"LeNet-5, {epochs} epochs of the default recipe on {train.Count:N0} images: {watch.Elapsed.TotalSeconds:F0} s");
        var model = new GraphModule(GraphTracer.Trace(net, train.SampleShape));
        model.Eval();
        var (int8, _) = Quantizer.Quantize(model, train, new QuantizeOptions());
        var engine = IntegerModel.Runner(int8);

        string dir = Directory.CreateTempSubdirectory("condense-quant-cnn-").FullName;
        string fp32File = Path.Combine(dir, "lenet5.onnx"), qdqFile = Path.Combine(dir, "lenet5.int8.qdq.onnx"),
            qopFile = Path.Combine(dir, "lenet5.int8.qop.onnx");
        ModelFile.Save(model.Graph, fp32File);
        ModelFile.Save(int8.Graph, qdqFile);
        ModelFile.Save(int8.Graph, qopFile, QuantizedOnnxFormat.QOperator);
        string safetensors = Path.Combine(dir, "lenet5.int8.safetensors");
        Checkpoint.Save(int8.Graph, safetensors);

        using var ortFp32 = Session(fp32File);
        using var ortQdq = Session(qdqFile);
        using var ortQop = Session(qopFile);
        float floatOurs = Evaluator.Evaluate(model, test).Accuracy;
        float int8Ours = Evaluator.Evaluate(engine, test).Accuracy;
        double floatOrt = OrtAccuracy(ortFp32, test), qdqOrt = OrtAccuracy(ortQdq, test), qopOrt = OrtAccuracy(ortQop, test);
        Console.WriteLine($"engine for int8: {(engine is IntegerConvModel ? "integer (IntegerConvModel)" : engine.GetType().Name)}");
        Console.WriteLine();
        Console.WriteLine("| model | Condense | ONNX Runtime | file |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine($"| fp32 | {floatOurs:P2} | {floatOrt:P2} | {new FileInfo(fp32File).Length:N0} B (.onnx) |");
        Console.WriteLine($"| int8 static per-channel, QDQ | {int8Ours:P2} | {qdqOrt:P2} | " +
            $"{new FileInfo(qdqFile).Length:N0} B (.onnx), {new FileInfo(safetensors).Length:N0} B (.safetensors) |");
        Console.WriteLine($"| int8 static per-channel, QOperator (QLinearConv/QGemm) | — | {qopOrt:P2} | {new FileInfo(qopFile).Length:N0} B (.onnx) |");
        Console.WriteLine($"int8 − fp32: Condense {(int8Ours - floatOurs) * 100:+0.00;−0.00;0.00} pt, " +
            $"ORT QDQ {(qdqOrt - floatOrt) * 100:+0.00;−0.00;0.00} pt, ORT QOperator {(qopOrt - floatOrt) * 100:+0.00;−0.00;0.00} pt");

        Console.WriteLine();
        Console.WriteLine("| engine | batch 1 latency | batch 256 throughput |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (name, run) in new (string, Func<Tensor, float[]>)[]
        {
            ("Condense fp32", x => Forward(model, x)), ("Condense int8", x => Forward(engine, x)),
            ("ORT fp32", x => OrtRun(ortFp32, x)), ("ORT int8 QDQ", x => OrtRun(ortQdq, x)), ("ORT int8 QOperator", x => OrtRun(ortQop, x)),
        })
        {
            var one = test.Batch([0]);
            var many = test.Batch(Enumerable.Range(0, 256).ToArray());
            double latency = Timing.MeasureSeconds(() => run(one), 0.5);
            double batch = Timing.MeasureSeconds(() => run(many), 1.0);
            Console.WriteLine($"| {name} | {latency * 1e6:F0} µs | {256 / batch:N0} images/s |");
        }
        Directory.Delete(dir, recursive: true);
        if (resnetEpochs > 0) BatchNormFoldingPredictions(train, test, resnetEpochs);
        return 0;
    }

    // BN folding changes no prediction: a trained resnet-mini, folded, on every test image.
    private static void BatchNormFoldingPredictions(Dataset train, Dataset test, int epochs)
    {
        var net = Condense.Nn.ModelSpec.Parse("resnet-mini").Build(0);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Trainer.Fit(net, train, null, new TrainOptions { Epochs = epochs });
        var model = new GraphModule(GraphTracer.Trace(net, train.SampleShape));
        var (folded, report) = BatchNormFolding.Fold(model);
        model.Eval(); folded.Eval();
        var all = Enumerable.Range(0, test.Count).ToArray();
        int changed = 0;
        float maxRelative = 0;
        for (int start = 0; start < test.Count; start += 500)
        {
            var x = test.Batch(all[start..Math.Min(test.Count, start + 500)]);
            Tensor a, b;
            using (GradMode.NoGrad()) { a = model.Forward(x); b = folded.Forward(x); }
            float range = a.Data.Max(MathF.Abs);
            for (int i = 0; i < a.Size; i++) maxRelative = Math.Max(maxRelative, MathF.Abs(a.Data[i] - b.Data[i]) / range);
            for (int r = 0; r < x.Shape[0]; r++)
                if (Argmax(a.Data.AsSpan(r * 10, 10)) != Argmax(b.Data.AsSpan(r * 10, 10))) changed++;
        }
        Console.WriteLine();
        Console.WriteLine($"resnet-mini, {epochs} epoch(s) ({watch.Elapsed.TotalSeconds:F0} s): {Evaluator.Evaluate(model, test).Accuracy:P2}; " +
            $"BN folding folded {report.Folded.Count} of {report.Folded.Count + report.Left.Count} BatchNormalization nodes, " +
            $"changed {changed} of {test.Count} predictions, logits max relative difference {maxRelative:G3}");
    }

    private static float[] Forward(Condense.Nn.Module model, Tensor x)
    {
        using (GradMode.NoGrad()) return model.Forward(x).Data;
    }

    private static InferenceSession Session(string path)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");   // see OnnxBench: spinning steals the 2 cores
        return new InferenceSession(path, options);
    }

    private static float[] OrtRun(InferenceSession session, Tensor x)
    {
        // The file declares its input as images or rows (the exporter may fold a leading Reshape into the input).
        var declared = session.InputMetadata[session.InputNames[0]].Dimensions;
        long[] shape = [x.Shape[0], .. declared[1..].Select(d => (long)d)];
        using var input = OrtValue.CreateTensorValueFromMemory(x.Data, shape);
        using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
        using var outputs = session.Run(runOptions, [session.InputNames[0]], [input], [session.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double OrtAccuracy(InferenceSession session, Dataset data)
    {
        int correct = 0;
        for (int start = 0; start < data.Count; start += 500)
        {
            var indices = Enumerable.Range(start, Math.Min(500, data.Count - start)).ToArray();
            var logits = OrtRun(session, data.Batch(indices));
            var labels = data.BatchLabels(indices);
            for (int r = 0; r < indices.Length; r++) if (Argmax(logits.AsSpan(r * 10, 10)) == labels[r]) correct++;
        }
        return correct / (double)data.Count;
    }

    private static int Argmax(ReadOnlySpan<float> row) => row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row));

    private static int Option(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }
}
