// ResNet-18 (the ML.NET package's CNTK export, 224×224) fp32 inference: our GraphModule (eval, no grad) against
// ONNX Runtime (ORT_ENABLE_ALL, 2 threads, no spinning) at batch 1 and 8, alternated, best of N, ratio printed.
// Batch 1 runs the original file in ORT; batch 8 runs our batch-dynamic graph (BatchDimension.MakeDynamic)
// exported back to ONNX. Agreement first: features within 1e-4 of the largest. `--profile` adds the time per op
// type at batch 1, each node re-run alone on its recorded inputs (cache-warm, so only a guide; `--convs` lists each
// convolution); `--mini` profiles resnet-mini at batch 256 instead; `--b1` times batch 1 only.
using System.Diagnostics;
using Condense.Autograd;
using Condense.Graph;
using Condense.Kernels.Platform;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Pretrained;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

/// <summary>`resnet18`: ResNet-18 fp32 inference, ours vs ONNX Runtime, batch 1 and 8.</summary>
internal static class ResNetBench
{
    public static int Run(string[] args)
    {
        if (args.Contains("--mini"))
        {
            // resnet-mini (untrained) at batch 256: the time per op type only.
            var mini = new GraphModule(GraphTracer.Trace(Condense.Nn.ModelSpec.Parse("resnet-mini").Build(0), [784]));
            mini.Eval();
            var rng = new Rng(3);
            var batch = new float[256 * 784];
            for (int i = 0; i < batch.Length; i++) batch[i] = rng.NextFloat();
            Profile(mini, new Tensor(batch, [256, 784]), args);
            return 0;
        }
        var model = BatchDimension.MakeDynamic(new GraphModule(OnnxImporter.Import(PretrainedModels.ResNet18Onnx)));
        model.Eval();
        string inputName = model.Graph.Inputs[0].Name;
        string dir = Directory.CreateTempSubdirectory("condense-resnetbench").FullName;
        try
        {
            string dynamicPath = Path.Combine(dir, "resnet18-dynamic.onnx");
            OnnxExporter.Export(model.Graph, dynamicPath);
            Console.WriteLine($"ResNet-18 fp32; our path {Cpu.Active}, {Cpu.Threads} threads; ONNX Runtime {OrtEnv.Instance().GetVersionString()}, " +
                $"{Environment.ProcessorCount} threads, no spinning; ORT/ours > 1 means we are faster");
            Console.WriteLine("| batch | ours ms | ORT ms | ORT/ours | max rel diff |");
            Console.WriteLine("|---:|---:|---:|---:|---:|");
            int failures = 0;
            foreach (int batch in args.Contains("--b1") ? [1] : new[] { 1, 8 })
            {
                var x = Input(batch);
                using var ort = new Session(batch == 1 ? PretrainedModels.ResNet18Onnx : dynamicPath, inputName, x);
                Tensor Ours() { using (GradMode.NoGrad()) return model.Forward(x); }
                float[] ours = Ours().Data, theirs = ort.Run();
                double rel = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max() / Math.Max(1f, theirs.Max(MathF.Abs));
                if (rel > 1e-4) failures++;
                var (tOurs, tOrt) = OnnxBench.Alternate(() => Ours(), ort.RunDiscard, rounds: 4);
                Console.WriteLine($"| {batch} | {tOurs * 1e3:0.00} | {tOrt * 1e3:0.00} | {tOrt / tOurs:0.00} | {rel:G3} |");
            }
            if (args.Contains("--profile")) Profile(model, Input(1), args);
            return failures == 0 ? 0 : 1;
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static Tensor Input(int batch)
    {
        var rng = new Rng(7);
        var data = new float[batch * 3 * 224 * 224];
        for (int i = 0; i < data.Length; i++) data[i] = rng.NextFloat() * 200f - 100f;
        return new Tensor(data, [batch, 3, 224, 224]);
    }

    // Time per op type: every node re-run alone on the inputs the full pass gave it, best of 5.
    private static void Profile(GraphModule model, Tensor x, string[] args)
    {
        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = model.Run(x);
        var context = new OpContext(false, new Rng(0), model.Graph);
        var byType = new Dictionary<string, (double Seconds, int Count)>();
        using (GradMode.NoGrad())
            foreach (var node in model.Graph.Nodes)
            {
                var inputs = node.Inputs.Select(i => i.Length == 0 ? null
                    : values.TryGetValue(i, out var v) ? v : model.Graph.Initializers[i]).ToArray();
                var kernel = GraphOps.Resolve(node);
                double best = double.MaxValue;
                for (int r = 0; r < 5; r++)
                {
                    var sw = Stopwatch.StartNew();
                    kernel(node, inputs, context);
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                if (node.OpType == "Conv" && args.Contains("--convs"))
                    Console.WriteLine($"{node.Name}: {Shape.Format(inputs[0]!.Shape)} * {Shape.Format(inputs[1]!.Shape)} " +
                        $"{string.Join(' ', node.Attributes.Select(a => a.Key + "=" + a.Value))} {best * 1e3:0.00} ms");
                var (s, c) = byType.GetValueOrDefault(node.OpType);
                byType[node.OpType] = (s + best, c + 1);
            }
        Console.WriteLine();
        Console.WriteLine($"| op (batch {x.Shape[0]}) | nodes | ms |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (op, (s, c)) in byType.OrderByDescending(kv => kv.Value.Seconds))
            Console.WriteLine($"| {op} | {c} | {s * 1e3:0.00} |");
    }

    /// <summary>An ORT session on one model file with one input bound to a tensor's buffer.</summary>
    private sealed class Session : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly OrtValue _input;
        private readonly string[] _inputNames, _outputNames;

        public Session(string path, string inputName, Tensor x)
        {
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = Environment.ProcessorCount,
            };
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            _session = new InferenceSession(path, options);
            _inputNames = [inputName];
            _outputNames = [_session.OutputNames[0]];
            _input = OrtValue.CreateTensorValueFromMemory(x.Data, x.Shape.Select(d => (long)d).ToArray());
        }

        public float[] Run()
        {
            using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        public void RunDiscard() { using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames); }

        public void Dispose() { _session.Dispose(); _runOptions.Dispose(); _input.Dispose(); }
    }
}
