// Transformer inference speed (issue 17): all-MiniLM-L6-v2 at 128 tokens, fp32 and dynamic int8, Condense against ONNX
// Runtime (2 threads, no spinning, ORT_ENABLE_ALL) at batch 1 and 8, alternated, best of N, with the ratio; `--profile`
// prints the time per op type of our graph run (a stopwatch around each node), to see where the time goes;
// `--simulation` adds the dynamic int8 graph run as its float simulation (the engine before DynamicQuantizeMatMul);
// fp32 runs as InferenceEngine.Compile runs it (LayerNorm and GELU fused), `--unfused` adds the imported graph as it is.
//   dotnet run -c Release --project bench/Condense.Bench -- transformer [--profile] [--batches 1,8] [--only fp32,int8] [--simulation] [--unfused]
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Inference;
using Condense.Kernels.Platform;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Pretrained;

namespace Condense.Bench;

internal static class TransformerBench
{
    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        Cpu.Threads = 2;
        var batches = Option("--batches", "1,8").Split(',').Select(int.Parse).ToArray();
        var only = Option("--only", "fp32,int8").Split(',');
        var model = ModelFile.Load(PretrainedModels.MiniLmOnnx);
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        var passages = TextPassages.Read(Path.Combine(TextSpeedBench.RepoRoot(), "data", "text", "fortunes.txt"));
        var names = model.Graph.Inputs.Select(i => i.Name).ToList();
        string dir = Directory.CreateTempSubdirectory("condense-transformer").FullName;
        try
        {
            var variants = new List<(string Name, string Path, GraphModule Graph)>();
            if (only.Contains("fp32")) variants.Add(("fp32", PretrainedModels.MiniLmOnnx, InferenceEngine.GraphRunner(model)));
            if (only.Contains("fp32") && args.Contains("--unfused")) variants.Add(("fp32 unfused", PretrainedModels.MiniLmOnnx, model));
            if (only.Contains("int8"))
            {
                var int8 = Quantizer.Quantize(model, null, new QuantizeOptions { Mode = QuantizationMode.Dynamic }).Model;
                string path = Path.Combine(dir, "minilm-dynamic.onnx");
                ModelFile.Save(int8.Graph, path);
                var compiled = InferenceEngine.Compile(int8);
                Console.WriteLine($"dynamic int8: {compiled.Kind} engine{(compiled.FallbackReason is { } r ? $" ({r})" : "")}");
                variants.Add(("dynamic int8", path, compiled.Runner as GraphModule ?? int8));
                if (args.Contains("--simulation")) variants.Add(("int8 simulated", path, int8));
            }
            foreach (var (name, path, graph) in variants)
            {
                graph.Eval();
                using var session = RealBench.Session(path, 2);
                foreach (int b in batches)
                {
                    var feed = tokenizer.Batch([.. passages.Take(b)], 128, padTo: 128).Feed(names);
                    string output = graph.Graph.Outputs[0].Name;
                    Tensor Ours() { using (GradMode.NoGrad()) return graph.Run(feed)[output]; }
                    if (args.Contains("--profile")) { Profile(graph, feed); continue; }
                    using var ort = new RealBench.OrtFeed(session, feed);
                    var reference = ort.Output();
                    var ours = Ours().Data;
                    double diff = 0, scale = 1, dot = 0, aa = 0, bb = 0;
                    for (int i = 0; i < ours.Length; i++)
                    {
                        diff = Math.Max(diff, Math.Abs(ours[i] - reference[i]));
                        scale = Math.Max(scale, Math.Abs(reference[i]));
                        dot += (double)ours[i] * reference[i]; aa += (double)ours[i] * ours[i]; bb += (double)reference[i] * reference[i];
                    }
                    var (tOurs, tOrt) = OnnxBench.Alternate(() => Ours(), ort.Run, rounds: int.Parse(Option("--rounds", "5")));
                    Console.WriteLine($"{name,-14} batch {b}: ours {tOurs * 1e3,8:0.00} ms, ORT {tOrt * 1e3,8:0.00} ms, ORT/ours {tOrt / tOurs:0.00}, "
                        + $"max rel diff {diff / scale:G2}, cosine {dot / Math.Sqrt(aa * bb):F5}");
                }
            }
            return 0;
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // Runs the graph node by node as GraphModule does (eval, no grad), timing each node; prints the total per op type.
    private static void Profile(GraphModule module, Dictionary<string, Tensor> feed)
    {
        var graph = module.Graph;
        var times = new Dictionary<string, (double Ms, int Count)>();
        for (int round = 0; round < 3; round++)
        {
            times.Clear();
            var values = new Dictionary<string, Tensor?>();
            foreach (var (k, v) in graph.Initializers) values[k] = v;
            foreach (var (k, v) in feed) values[k] = v;
            var context = new OpContext(false, new Rng(0), graph);
            using var _ = GradMode.NoGrad();
            var clock = new Stopwatch();
            foreach (var node in graph.Nodes)
            {
                var def = OpRegistry.Find(node.OpType)!;
                var inputs = node.Inputs.Select((n, i) =>
                {
                    var t = n.Length == 0 ? null : values[n];
                    if (t is { DataType: not DataType.Float32 } && !def.Types.Contains(t.DataType) && !def.IntegerInputs.Contains(i) && def.FloatHeld)
                        t = new Tensor(t.Data, t.Shape);
                    return t;
                }).ToArray();
                clock.Restart();
                var outputs = GraphOps.Resolve(node)(node, inputs, context);
                double ms = clock.Elapsed.TotalMilliseconds;
                for (int i = 0; i < node.Outputs.Count && i < outputs.Length; i++) values[node.Outputs[i]] = outputs[i];
                var key = node.OpType;
                times[key] = times.TryGetValue(key, out var t) ? (t.Ms + ms, t.Count + 1) : (ms, 1);
            }
        }
        double total = times.Values.Sum(t => t.Ms);
        Console.WriteLine($"batch {feed.Values.First().Shape[0]}: {total:0.0} ms");
        foreach (var (op, (ms, count)) in times.OrderByDescending(kv => kv.Value.Ms))
            Console.WriteLine($"  {op,-22} {count,4} nodes {ms,9:0.00} ms {100 * ms / total,5:0.0}%");
    }
}
