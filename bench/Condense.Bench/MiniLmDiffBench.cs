// Where the dynamic int8 all-MiniLM-L6-v2 parts from ONNX Runtime on 128 real tokens (issue 17): the final outputs of ours
// (QDQ simulation and engine) against ORT optimised and unoptimised and against fp32; our own sensitivity (the embedding
// LayerNorm's γ moved by one ulp at random places); the first activation whose uint8 codes differ from ORT's unoptimised run
// (all values made graph outputs), with the inputs of the differing codes; then every node output that parts from ORT
// (`--all`: every one). What it found is written beside the MiniLM rows of RealBench.cs.
//   dotnet run -c Release --project bench/Condense.Bench -- minilm-diff [--batch 1] [--all]
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Platform;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Pretrained;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Condense.Bench;

internal static class MiniLmDiffBench
{
    public static int Run(string[] args)
    {
        int batch = int.Parse(args.SkipWhile(a => a != "--batch").Skip(1).FirstOrDefault() ?? "1");
        Cpu.Threads = 2;
        var model = ModelFile.Load(PretrainedModels.MiniLmOnnx);
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        var passages = TextPassages.Read(Path.Combine(TextSpeedBench.RepoRoot(), "data", "text", "fortunes.txt"));
        var joined = Enumerable.Range(0, 8).Select(i => string.Join(" ", passages.Skip(i * 24).Take(24))).ToList();
        var feed = tokenizer.Batch([.. joined.Take(batch)], 128, padTo: 128).Feed([.. model.Graph.Inputs.Select(i => i.Name)]);
        var int8 = Quantizer.Quantize(model, null, new QuantizeOptions { Mode = QuantizationMode.Dynamic }).Model;
        int8.Eval();
        var compiled = (GraphModule)InferenceEngine.Compile(int8).Runner;
        string output = int8.Graph.Outputs[0].Name;
        Dictionary<string, Tensor> simulated, engineAll;
        Tensor engine;
        using (GradMode.NoGrad())
        {
            simulated = int8.Run(feed);
            engine = compiled.RunOutputs(feed)[output];
            engineAll = compiled.Run(feed);
        }
        var (optimised, plain) = RunOrt(int8.Graph, feed, simulated);
        var fp32 = Optimised(PretrainedModels.MiniLmOnnx, feed, simulated[output].Shape);
        Console.WriteLine($"to fp32 (ORT): ours {Compare(engine, fp32)}, ORT int8 {Compare(optimised, fp32)}, ORT unoptimised {Compare(plain[output], fp32)}");
        Console.WriteLine($"ours: simulation to ORT unoptimised {Compare(simulated[output], plain[output])}, to ORT {Compare(simulated[output], optimised)}; "
            + $"engine to ORT {Compare(engine, optimised)}, to simulation {Compare(engine, simulated[output])}");
        Console.WriteLine($"ORT unoptimised to ORT {Compare(plain[output], optimised)}");
        Console.WriteLine($"simulation with γ one ulp up at random to simulation {Compare(Nudged(int8, feed)[output], simulated[output])}");
        FirstCodeDifference(int8.Graph, simulated, plain);
        int shown = 0;
        foreach (var node in int8.Graph.Nodes)
            foreach (var name in node.Outputs.Where(o => plain.ContainsKey(o) && simulated.ContainsKey(o)))
            {
                var (cos, rel) = Measure(simulated[name], plain[name]);
                string ours = engineAll.TryGetValue(name, out var e) ? $", engine {Compare(e, plain[name])}" : "";
                if ((cos < 0.99999 || rel > 1e-3 || args.Contains("--all")) && shown++ < 60)
                    Console.WriteLine($"{node.OpType,-22} {name,-50} simulation {Compare(simulated[name], plain[name])}{ours}");
            }
        return 0;
    }

    // ORT's output of the file optimised (as RealBench runs it), and every float value of the graph unoptimised.
    private static (Tensor Optimised, Dictionary<string, Tensor> Plain) RunOrt(ModelGraph graph, Dictionary<string, Tensor> feed,
        Dictionary<string, Tensor> simulated)
    {
        string dir = Directory.CreateTempSubdirectory("condense-minilm-diff").FullName;
        try
        {
            string path = Path.Combine(dir, "int8.onnx"), widePath = Path.Combine(dir, "wide.onnx");
            string output = graph.Outputs[0].Name;
            OnnxExporter.Export(graph, path);
            var optimised = Optimised(path, feed, simulated[output].Shape);
            // Float values of nodes that read no integer initializer (ORT types those outputs otherwise).
            var values = graph.Nodes.Where(n => !n.Inputs.Any(graph.ElementTypes.ContainsKey)).SelectMany(n => n.Outputs)
                .Where(o => o.Length > 0 && o != output && simulated.TryGetValue(o, out var v) && v.DataType == DataType.Float32).Distinct();
            var kept = graph.Outputs.ToList();
            graph.Outputs.AddRange(values.Select(name => new ValueInfo(name, simulated[name].Shape)));
            try { OnnxExporter.Export(graph, widePath); }
            finally { graph.Outputs.Clear(); graph.Outputs.AddRange(kept); }
            return (optimised, RunPlain(widePath, feed));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static Tensor Optimised(string path, Dictionary<string, Tensor> feed, int[] shape)
    {
        using var session = RealBench.Session(path, 2);
        using var ortFeed = new RealBench.OrtFeed(session, feed);
        return new Tensor(ortFeed.Output(), shape);
    }

    // The simulation's outputs with the embedding LayerNorm's γ one ulp up at half its places (seeded), γ restored after.
    private static Dictionary<string, Tensor> Nudged(GraphModule int8, Dictionary<string, Tensor> feed)
    {
        var gamma = int8.Graph.Initializers.First(kv => kv.Key.Contains("embeddings.LayerNorm.weight")).Value;
        var original = gamma.Data.ToArray();
        var rng = new Rng(1);
        for (int i = 0; i < gamma.Size; i++) if (rng.NextFloat() < 0.5f) gamma.Data[i] = MathF.BitIncrement(gamma.Data[i]);
        try { using (GradMode.NoGrad()) return int8.Run(feed); }
        finally { original.CopyTo(gamma.Data, 0); }
    }

    // The first DequantizeLinear of a DynamicQuantizeLinear whose codes differ from ORT's, how many, and the first few inputs.
    private static void FirstCodeDifference(ModelGraph graph, Dictionary<string, Tensor> ours, Dictionary<string, Tensor> ort)
    {
        int[] Differing(Node dq) => Codes(ours, dq).Zip(Codes(ort, dq)).Select((p, i) => p.First == p.Second ? -1 : i).Where(i => i >= 0).ToArray();
        var first = graph.Nodes.FirstOrDefault(n => n.OpType == OpTypes.DequantizeLinear && ort.ContainsKey(n.Outputs[0])
            && graph.Producer(n.Inputs[0]) is { OpType: OpTypes.DynamicQuantizeLinear } && Differing(n).Length > 0);
        if (first is null) { Console.WriteLine("no activation code differs"); return; }
        var quantize = graph.Producer(first.Inputs[0])!;
        var (x, xOrt) = (ours[quantize.Inputs[0]].Data, ort[quantize.Inputs[0]].Data);
        var (step, stepOrt) = (ours[first.Inputs[1]].Data[0], ort[first.Inputs[1]].Data[0]);
        var differing = Differing(first);
        foreach (int i in differing.Take(5))
            Console.WriteLine($"  [{i}]: x ours {x[i]:R}, ORT {xOrt[i]:R}; x / scale ours {x[i] / step:F7}, ORT {xOrt[i] / stepOrt:F7}");
        Console.WriteLine($"{differing.Length} of {x.Length} codes differ at {first.Outputs[0]} (scale ours {step:R}, ORT {stepOrt:R}; "
            + $"its input to ORT's {Compare(ours[quantize.Inputs[0]], ort[quantize.Inputs[0]])})");
    }

    // A DequantizeLinear's output as codes (value / scale, rounded: exact, the zero point left out).
    private static IEnumerable<float> Codes(Dictionary<string, Tensor> values, Node dq)
    {
        float scale = values[dq.Inputs[1]].Data[0];
        return values[dq.Outputs[0]].Data.Select(v => MathF.Round(v / scale));
    }

    // Every output of the file, unoptimised, as float tensors (uint8, int8 and int64 values converted).
    private static Dictionary<string, Tensor> RunPlain(string path, Dictionary<string, Tensor> feed)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 2 };
        using var session = new InferenceSession(path, options);
        var values = feed.Values.Select(t => t.DataType == DataType.Float32
            ? OrtValue.CreateTensorValueFromMemory(t.Data, [.. t.Shape.Select(d => (long)d)])
            : OrtValue.CreateTensorValueFromMemory(t.Int64Data, [.. t.Shape.Select(d => (long)d)])).ToArray();
        try
        {
            using var runOptions = new RunOptions();
            var names = session.OutputNames.ToArray();
            using var results = session.Run(runOptions, [.. feed.Keys], values, names);
            var outputs = new Dictionary<string, Tensor>();
            for (int k = 0; k < names.Length; k++)
            {
                var info = results[k].GetTensorTypeAndShape();
                float[]? data = info.ElementDataType switch
                {
                    TensorElementType.Float => results[k].GetTensorDataAsSpan<float>().ToArray(),
                    TensorElementType.UInt8 => [.. results[k].GetTensorDataAsSpan<byte>().ToArray().Select(v => (float)v)],
                    TensorElementType.Int8 => [.. results[k].GetTensorDataAsSpan<sbyte>().ToArray().Select(v => (float)v)],
                    TensorElementType.Int64 => [.. results[k].GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v)],
                    _ => null,
                };
                if (data is not null) outputs[names[k]] = new Tensor(data, [.. info.Shape.Select(d => (int)d)]);
            }
            return outputs;
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    private static string Compare(Tensor a, Tensor b) { var (c, r) = Measure(a, b); return $"cos {c:F6} rel {r:G3}"; }

    // The cosine of two tensors as vectors and their largest difference relative to b's largest magnitude.
    private static (double Cosine, double Relative) Measure(Tensor a, Tensor b)
    {
        var (x, y) = (a.Data, b.Data);
        if (x.Length != y.Length) return (double.NaN, double.NaN);
        double dot = 0, xx = 0, yy = 0, worst = 0, scale = 1e-30;
        for (int i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i]; xx += (double)x[i] * x[i]; yy += (double)y[i] * y[i];
            worst = Math.Max(worst, Math.Abs(x[i] - y[i])); scale = Math.Max(scale, Math.Abs(y[i]));
        }
        return (xx == 0 && yy == 0 ? 1 : dot / Math.Sqrt(Math.Max(xx * yy, 1e-60)), worst / scale);
    }
}
