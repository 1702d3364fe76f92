// Transformer inference speed (issue 17): all-MiniLM-L6-v2 at 128 tokens, fp32 and dynamic int8, Condense against ONNX
// Runtime (2 threads — `--threads` sets both engines' —, no spinning, ORT_ENABLE_ALL) at batch 1 and 8, alternated, best of N,
// with the ratio (with `--threads 1`, the ratio of the two engines' arithmetic, free of how each shares work out); `--profile`
// prints the time per op type of our inference run (RunOutputs, GraphModule's step timer), to see where the time goes;
// `--simulation` adds the dynamic int8 graph run as its float simulation (the engine before DynamicQuantizeMatMul);
// fp32 runs as InferenceEngine.Compile runs it (LayerNorm and GELU fused), `--unfused` adds the imported graph as it is;
// `--real` feeds 128 real tokens (consecutive passages joined, as RealBench) instead of passages padded to 128.
//   dotnet run -c Release --project bench/Condense.Bench -- transformer [--profile] [--real] [--batches 1,8] [--only fp32,int8] [--simulation]
//     [--unfused] [--rounds 5] [--threads 2] [--spin]
using System.Diagnostics;
using System.Runtime.InteropServices;
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
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
        Cpu.Threads = int.Parse(Option("--threads", "2"));
        Cpu.WorkerSpin = args.Contains("--spin");   // off by default, as ORT's allow_spinning here
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
                using var session = RealBench.Session(path, Cpu.Threads);
                foreach (int b in batches)
                {
                    var texts = args.Contains("--real") ? Enumerable.Range(0, b).Select(i => string.Join(" ", passages.Skip(i * 24).Take(24)))
                        : passages.Take(b);
                    var feed = tokenizer.Batch([.. texts], 128, padTo: 128).Feed(names);
                    string output = graph.Graph.Outputs[0].Name;
                    Tensor Ours() { using (GradMode.NoGrad()) return graph.RunOutputs(feed)[output]; }
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

    // Runs the graph as inference does (RunOutputs: fused chains, pooled buffers, values released) and charges each step the
    // time since the previous one finished (GraphModule.StepFinished): wall time, and this thread's CPU time, which other
    // jobs on the machine do not inflate (all of a step's CPU time with `--threads 1`); per op type, the best of five passes.
    private static void Profile(GraphModule module, Dictionary<string, Tensor> feed)
    {
        // Warm-up of two seconds: packing, pools, and the JIT's tiering up of every kernel (a run of a few passes would profile
        // unoptimised code: the elementwise kernels measured up to 10× slower at tier 0).
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 2) using (GradMode.NoGrad()) module.RunOutputs(feed);
        Dictionary<string, (double Wall, double Cpu, int Count)>? best = null;
        for (int round = 0; round < 5; round++)
        {
            var times = new Dictionary<string, (double Wall, double Cpu, int Count)>();
            long wall = Stopwatch.GetTimestamp();
            double cpu = ThreadCpuSeconds();
            module.StepFinished = node =>
            {
                long nowWall = Stopwatch.GetTimestamp();
                double nowCpu = ThreadCpuSeconds();
                double w = Stopwatch.GetElapsedTime(wall, nowWall).TotalMilliseconds, c = (nowCpu - cpu) * 1e3;
                times[node.OpType] = times.TryGetValue(node.OpType, out var t) ? (t.Wall + w, t.Cpu + c, t.Count + 1) : (w, c, 1);
                (wall, cpu) = (nowWall, nowCpu);
            };
            using (GradMode.NoGrad()) module.RunOutputs(feed);
            module.StepFinished = null;
            best = best is null ? times : times.ToDictionary(kv => kv.Key, kv => best.TryGetValue(kv.Key, out var b) && b.Cpu < kv.Value.Cpu ? b : kv.Value);
        }
        Console.WriteLine($"batch {feed.Values.First().Shape[0]}, {Cpu.Threads} threads: {best!.Values.Sum(t => t.Wall):0.0} ms wall, "
            + $"{best.Values.Sum(t => t.Cpu):0.0} ms CPU of this thread");
        foreach (var (op, (w, c, count)) in best.OrderByDescending(kv => kv.Value.Cpu).Where(kv => kv.Value.Wall > 0.05))
            Console.WriteLine($"  {op,-22} {count,4} nodes {w,9:0.00} ms wall {c,9:0.00} ms CPU");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    // CLOCK_THREAD_CPUTIME_ID (3 on Linux): the calling thread's CPU time.
    private static double ThreadCpuSeconds() => ClockGetTime(3, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : 0;
}
