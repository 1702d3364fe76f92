// Our engine against ONNX Runtime, measured in one run: LeNet-300-100 trained 2 epochs on the embedded MNIST,
// exported to ONNX as fp32, as the static int8 model in QDQ and QOperator (QGemm) form, and as the weight-only
// int4 model in MatMulNBits form (block 32), and run by ORT (ORT_ENABLE_ALL) beside our GraphModule and
// IntegerModel. Agreement is checked first (fp32 logits within 1e-4 relative, int8 argmax on 256 test images,
// int4 logits within 1e-4 of our simulation); then each pair is timed alternately at batch 1 and 256, best of
// repeated runs, with all cores and with one thread on both sides.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Training;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

/// <summary>`onnx`: µs per forward of our fp32 and int8 models and of ONNX Runtime on their exports, and the ratio.</summary>
internal static class OnnxBench
{
    public static int Run(string[] args)
    {
        bool spin = args.Contains("--spin");   // let ORT's threads spin between runs (its default)
        var (train, test) = Mnist.LoadEmbedded();
        var model = ModelSpec.Parse("mlp:784-300-100-10").Build(0);
        Trainer.Fit(model, train, null, new TrainOptions { Epochs = 2 });
        var graph = GraphTracer.Trace(model, [784]);
        var fp32 = new GraphModule(graph.Clone()); fp32.Eval();
        var qdq = Quantizer.Quantize(new GraphModule(graph.Clone()), train, new QuantizeOptions()).Model.Graph;
        var int8 = IntegerModel.Compile(qdq);
        // Weight-only int4: ours runs the QDQ graph (weights dequantized each forward), ORT runs MatMulNBits.
        var int4 = Quantizer.Quantize(new GraphModule(graph.Clone()), train,
            new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 32 }).Model;
        int4.Eval();

        string dir = Directory.CreateTempSubdirectory("condense-onnxbench").FullName;
        try
        {
            string fp32Path = Path.Combine(dir, "lenet-fp32.onnx"), int8Path = Path.Combine(dir, "lenet-int8-qdq.onnx");
            OnnxExporter.Export(graph, fp32Path);
            string qopPath = Path.Combine(dir, "lenet-int8-qoperator.onnx"), int4Path = Path.Combine(dir, "lenet-int4-matmulnbits.onnx");
            OnnxExporter.Export(qdq, int8Path);
            OnnxExporter.Export(qdq, qopPath, QuantizedOnnxFormat.QOperator);
            OnnxExporter.Export(int4.Graph, int4Path, QuantizedOnnxFormat.MatMulNBits);
            using var ortFp32 = new Ort(fp32Path, Environment.ProcessorCount, spin);
            using var ortInt8 = new Ort(int8Path, Environment.ProcessorCount, spin);
            using var ortQop = new Ort(qopPath, Environment.ProcessorCount, spin);
            using var ortInt4 = new Ort(int4Path, Environment.ProcessorCount, spin);
            using var ortFp32One = new Ort(fp32Path, 1, spin);
            using var ortInt8One = new Ort(int8Path, 1, spin);
            using var ortQopOne = new Ort(qopPath, 1, spin);
            using var ortInt4One = new Ort(int4Path, 1, spin);

            // Agreement before speed.
            var x = test.Batch(Enumerable.Range(0, 256).ToArray());
            Tensor ours;
            using (GradMode.NoGrad()) ours = fp32.Forward(x);
            float[] theirs = ortFp32.Run(x);
            float scale = Math.Max(1f, ours.Data.Max(MathF.Abs));
            double maxRel = ours.Data.Zip(theirs, (a, b) => Math.Abs(a - b)).Max() / scale;
            var oursInt = int8.Forward(x);
            float[] theirsInt = ortInt8.Run(x);
            int agree = Enumerable.Range(0, 256).Count(i => ArgMax(oursInt.Data, i) == ArgMax(theirsInt, i));
            float[] theirsQop = ortQop.Run(x);
            int agreeQop = Enumerable.Range(0, 256).Count(i => ArgMax(oursInt.Data, i) == ArgMax(theirsQop, i));
            double maxRelQop = oursInt.Data.Zip(theirsQop, (a, b) => Math.Abs(a - b)).Max() / Math.Max(1f, oursInt.Data.Max(MathF.Abs));
            Tensor oursInt4;
            using (GradMode.NoGrad()) oursInt4 = int4.Forward(x);
            double maxRelInt4 = oursInt4.Data.Zip(ortInt4.Run(x), (a, b) => Math.Abs(a - b)).Max() / Math.Max(1f, oursInt4.Data.Max(MathF.Abs));
            Console.WriteLine($"LeNet-300-100, 2 epochs on the embedded MNIST; ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
            Console.WriteLine($"fp32 vs ORT: max |Δlogit| / max(1, max |logit|) = {maxRel:G3}; int8 vs ORT QDQ: argmax agrees on {agree}/256");
            Console.WriteLine($"int8 vs ORT QOperator: argmax agrees on {agreeQop}/256, max |Δlogit| / max(1, max |logit|) = {maxRelQop:G3}; "
                + $"int4 vs ORT MatMulNBits: {maxRelInt4:G3}");
            Console.WriteLine($"file bytes: fp32 {new FileInfo(fp32Path).Length}, int8 QDQ {new FileInfo(int8Path).Length}, "
                + $"int8 QOperator {new FileInfo(qopPath).Length}, int4 MatMulNBits {new FileInfo(int4Path).Length}");
            if (maxRel > 1e-4) { Console.WriteLine("MISMATCH: fp32 logits differ from ONNX Runtime"); return 1; }
            if (agree < 0.99 * 256 || agreeQop < 0.99 * 256) { Console.WriteLine("MISMATCH: the integer model disagrees with ONNX Runtime"); return 1; }
            if (maxRelInt4 > 1e-4) { Console.WriteLine("MISMATCH: int4 logits differ from ONNX Runtime's MatMulNBits"); return 1; }

            // What is timed: ours, Forward on a prebuilt input Tensor (allocating the output, as in use), eval mode,
            // no autograd. ORT, session.Run on a prebuilt OrtValue that wraps (pins) the same float[] and
            // prebuilt name arrays, and disposing the returned output OrtValue; no copy of the input or output to
            // managed arrays. Both sides include their per-call dispatch, neither includes loading or compilation.
            Console.WriteLine();
            Console.WriteLine($"µs per forward, best of repeated runs measured alternately; our path {Cpu.Active}; " +
                $"ORT thread spinning {(spin ? "on" : "off")}; ORT/ours > 1 means we are faster");
            Console.WriteLine();
            Console.WriteLine("| model | threads | batch | ours µs | ORT µs | ORT/ours |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|");
            foreach (int threads in new[] { Cpu.Threads, 1 })
            {
                int saved = Cpu.Threads;
                Cpu.Threads = threads;
                var (f, i8, qop, i4) = threads == 1 ? (ortFp32One, ortInt8One, ortQopOne, ortInt4One) : (ortFp32, ortInt8, ortQop, ortInt4);
                foreach (int batch in new[] { 1, 256 })
                {
                    var input = test.Batch(Enumerable.Range(0, batch).ToArray());
                    using var bound = f.Bind(input);
                    using var boundInt = i8.Bind(input);
                    using var boundQop = qop.Bind(input);
                    using var boundInt4 = i4.Bind(input);
                    var (tOurs, tOrt) = Alternate(() => { using (GradMode.NoGrad()) fp32.Forward(input); }, () => bound.Run());
                    Row("fp32", threads, batch, tOurs, tOrt);
                    (tOurs, tOrt) = Alternate(() => int8.Forward(input), () => boundInt.Run());
                    Row("int8 (ORT: QDQ)", threads, batch, tOurs, tOrt);
                    (tOurs, tOrt) = Alternate(() => int8.Forward(input), () => boundQop.Run());
                    Row("int8 (ORT: QOperator QGemm)", threads, batch, tOurs, tOrt);
                    (tOurs, tOrt) = Alternate(() => { using (GradMode.NoGrad()) int4.Forward(input); }, () => boundInt4.Run());
                    Row("int4 weight-only (ours: QDQ simulation; ORT: MatMulNBits)", threads, batch, tOurs, tOrt);
                }
                Cpu.Threads = saved;
            }
            return 0;
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void Row(string model, int threads, int batch, double ours, double ort) =>
        Console.WriteLine($"| {model} | {threads} | {batch} | {ours * 1e6:0.0} | {ort * 1e6:0.0} | {ort / ours:0.00} |");

    // Best seconds per call of each action over several alternating rounds, so both see the same machine load.
    internal static (double A, double B) Alternate(Action a, Action b, int rounds = 5)
    {
        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            bestA = Math.Min(bestA, Timing.MeasureSeconds(a, 0.1));
            bestB = Math.Min(bestB, Timing.MeasureSeconds(b, 0.1));
        }
        return (bestA, bestB);
    }

    private static int ArgMax(float[] logits, int row, int classes = 10) =>
        logits.AsSpan(row * classes, classes).IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(logits.AsSpan(row * classes, classes)));

    // One ORT session on a model file with input "input", fully optimised, on a fixed number of intra-op threads.
    internal sealed class Ort : IDisposable
    {
        private readonly InferenceSession session;
        private readonly RunOptions runOptions = new();
        private readonly string[] inputNames = ["input"];
        private readonly string[] outputNames;

        public Ort(string path, int threads, bool spin)
        {
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = threads,
            };
            // ORT's pool threads spin after each Run by default; on a 2-core machine that spinning steals the cores
            // from whatever runs next (our side, when timed alternately), so it is off here.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
            session = new InferenceSession(path, options);
            outputNames = [session.OutputNames[0]];
        }

        /// <summary>The logits for <paramref name="x"/>, copied out.</summary>
        public float[] Run(Tensor x)
        {
            using var bound = Bind(x);
            using var outputs = bound.RunOutputs();
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        /// <summary>An input OrtValue over <paramref name="x"/>'s buffer, ready to run repeatedly.</summary>
        public Bound Bind(Tensor x) => new(this, OrtValue.CreateTensorValueFromMemory(x.Data, x.Shape.Select(d => (long)d).ToArray()));

        public void Dispose() { session.Dispose(); runOptions.Dispose(); }

        public sealed class Bound(Ort ort, OrtValue input) : IDisposable
        {
            private readonly OrtValue[] inputs = [input];

            public IDisposableReadOnlyCollection<OrtValue> RunOutputs() =>
                ort.session.Run(ort.runOptions, ort.inputNames, inputs, ort.outputNames);

            public void Run() { using var outputs = RunOutputs(); }

            public void Dispose() => input.Dispose();
        }
    }
}
