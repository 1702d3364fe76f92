// Convolutional networks end to end, measured in one run: LeNet-5 training throughput on the embedded
// MNIST (batch 64 and 256), then inference of LeNet-5 and resnet-mini in our engine (GraphModule, eval
// mode) against ONNX Runtime on the exported fp32 ONNX model: latency at batch 1 and throughput at
// batch 256, with all cores and with one thread on both sides, timed alternately as OnnxBench does.
// LeNet-5 also with half its conv filters removed and as static int8 (our integer engine against ORT on
// the QDQ export). Agreement comes first: logits within 1e-4 (int8: 2%) of ORT's, relative to the largest.
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Training;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

/// <summary>`cnn`: LeNet-5 training samples/s; LeNet-5 and resnet-mini inference, ours vs ONNX Runtime.</summary>
internal static class CnnBench
{
    /// <summary>
    /// One model of the inference table: how our engine runs a batch, and the ONNX file ORT runs.
    /// <paramref name="Ours"/> must return logits comparable with ORT's output.
    /// </summary>
    private sealed record Variant(string Name, Func<Tensor, Tensor> Ours, string OnnxPath, double Tolerance = 1e-4);

    public static int Run(string[] args)
    {
        bool spin = args.Contains("--spin");
        var (train, test) = Mnist.LoadEmbedded();
        Console.WriteLine($"Convolutional networks on the embedded MNIST ({train.Count} train images); our path {Cpu.Active}, {Cpu.Threads} threads; "
            + $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
        Console.WriteLine();

        // Training: the default recipe's step (SGD Nesterov, weight decay, cosine), ±1 pixel shifts off so
        // that only the network is timed.
        var lenetSpec = ModelSpec.Parse("lenet5");
        Console.WriteLine("| LeNet-5 training | samples/s |");
        Console.WriteLine("|---|---:|");
        Sequential? lenet = null;
        foreach (int batch in new[] { 64, 256 })
        {
            var (model, rate) = TrainingThroughput(lenetSpec, train, batch);
            lenet ??= model;
            Console.WriteLine($"| batch {batch} | {rate:N0} |");
        }
        Console.WriteLine();

        string dir = Directory.CreateTempSubdirectory("condense-cnnbench").FullName;
        try
        {
            var lenetGraph = new GraphModule(GraphTracer.Trace(lenet!, [784]));
            var variants = new List<Variant>
            {
                Float("LeNet-5 fp32", lenetGraph, dir, "lenet5-fp32.onnx"),
                // Half the filters of both convolutions removed (6 → 3, 16 → 8, fc1 400 → 200 inputs), not fine-tuned: speed only.
                Float("LeNet-5 fp32, 50% of conv filters removed", StructuredPruning.Remove(lenetGraph, 0.5, include: ["1.weight", "4.weight"]).Model,
                    dir, "lenet5-filters50.onnx"),
                Int8("LeNet-5 int8 (ours: integer engine; ORT: QDQ)", lenetGraph, train, dir, "lenet5-int8.onnx"),
                Float("resnet-mini fp32 (untrained)", ModelSpec.Parse("resnet-mini").Build(0), dir, "resnet-mini-fp32.onnx"),
                // ORT folds batch norm into the convolutions when it loads a model; this row does the same on our side.
                Float("resnet-mini fp32, batch norm folded (ours and ORT)", FoldedResNet(), dir, "resnet-mini-folded.onnx"),
            };

            var x = test.Batch(Enumerable.Range(0, 256).ToArray());
            foreach (var v in variants)
            {
                using var ort = new OnnxBench.Ort(v.OnnxPath, Environment.ProcessorCount, spin);
                var ours = v.Ours(x).Data;
                float[] theirs = ort.Run(x);
                double maxRel = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max() / Math.Max(1f, ours.Max(MathF.Abs));
                Console.WriteLine($"{v.Name}: max |Δlogit| / max(1, max |logit|) vs ORT = {maxRel:G3}; ONNX file {new FileInfo(v.OnnxPath).Length:N0} bytes");
                if (maxRel > v.Tolerance) { Console.WriteLine($"MISMATCH: {v.Name} differs from ONNX Runtime"); return 1; }
            }

            Console.WriteLine();
            Console.WriteLine($"Inference, best of repeated runs measured alternately; ORT thread spinning {(spin ? "on" : "off")}; " +
                "ORT/ours > 1 means we are faster");
            Console.WriteLine();
            Console.WriteLine("| model | threads | batch | ours µs | ORT µs | ours samples/s | ORT samples/s | ORT/ours |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var v in variants)
            {
                foreach (int threads in new[] { Cpu.Threads, 1 })
                {
                    int saved = Cpu.Threads;
                    Cpu.Threads = threads;
                    using var ort = new OnnxBench.Ort(v.OnnxPath, threads == 1 ? 1 : Environment.ProcessorCount, spin);
                    foreach (int batch in new[] { 1, 256 })
                    {
                        var input = test.Batch(Enumerable.Range(0, batch).ToArray());
                        using var bound = ort.Bind(input);
                        var (tOurs, tOrt) = OnnxBench.Alternate(() => v.Ours(input), () => bound.Run());
                        Console.WriteLine($"| {v.Name} | {threads} | {batch} | {tOurs * 1e6:0.0} | {tOrt * 1e6:0.0} | " +
                            $"{batch / tOurs:N0} | {batch / tOrt:N0} | {tOrt / tOurs:0.00} |");
                    }
                    Cpu.Threads = saved;
                }
            }
            return 0;
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static GraphModule FoldedResNet()
    {
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("resnet-mini").Build(0), [784]));
        model.Eval();
        return BatchNormFolding.Fold(model).Model;
    }

    // The model traced, exported to ONNX, and run by our engine as the graph that was exported.
    private static Variant Float(string name, Module model, string dir, string file)
    {
        var graph = model is GraphModule g ? g.Graph.Clone() : GraphTracer.Trace(model, [784]);
        string path = Path.Combine(dir, file);
        OnnxExporter.Export(graph, path);
        var module = new GraphModule(graph.Clone());
        module.Eval();
        return new Variant(name, input => { using (GradMode.NoGrad()) return module.Forward(input); }, path);
    }

    // Static int8 (per-channel weights, min-max calibration): ours on the integer engine, ORT on the QDQ export.
    // The two round differently inside, so agreement is checked to 2% of the largest logit.
    private static Variant Int8(string name, GraphModule model, Dataset calibration, string dir, string file)
    {
        var (int8, _) = Quantizer.Quantize(model, calibration, new QuantizeOptions());
        string path = Path.Combine(dir, file);
        OnnxExporter.Export(int8.Graph, path);
        var engine = IntegerModel.Runner(int8);
        engine.Eval();
        Console.WriteLine($"{name}: our engine is {engine.GetType().Name}");
        return new Variant(name, input => { using (GradMode.NoGrad()) return engine.Forward(input); }, path, Tolerance: 0.02);
    }

    // One warm-up epoch (the JIT tiers up), then the best of three timed epochs: the 2-core machine is
    // shared, and the best run is the one least disturbed by its neighbours. Returns the trained model.
    private static (Sequential Model, double SamplesPerSecond) TrainingThroughput(ModelSpec spec, Dataset train, int batch)
    {
        var model = spec.Build(0);
        var options = new TrainOptions { Epochs = 1, BatchSize = batch, AugmentShift = 0, LearningRate = 0.05f };
        Trainer.Fit(model, train, null, options);
        var rates = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            Trainer.Fit(model, train, null, options with { Seed = (ulong)i + 1 });
            rates.Add(train.Count / watch.Elapsed.TotalSeconds);
        }
        rates.Sort();
        Console.Error.WriteLine($"  batch {batch}: epochs at {string.Join(", ", rates.Select(r => r.ToString("N0")))} samples/s");
        return (model, rates[^1]);
    }
}
