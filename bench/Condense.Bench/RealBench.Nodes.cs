// Per-node profiles of one case. `real --profile NAME --ort --nodes`: ONNX Runtime's own per-node times (its profiler,
// SessionOptions.EnableProfiling), the best of the timed runs per node, in graph order beside the op type; ORT's times
// include its profiling, so they are upper bounds of a plain run's. `real --profile NAME --nodes`: ours for a float graph,
// each step charged the wall time since the previous one finished (GraphModule.StepFinished; a fused chain is charged to
// its last node), the best of the rounds per node, and what one more pass allocated (the arena should make it nothing).
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Bench;

internal static partial class RealBench
{
    // The graph behind each float case's runner, for `--nodes`.
    private static readonly ConditionalWeakTable<Func<IReadOnlyDictionary<string, Tensor>, Tensor>, GraphModule> s_graphs = new();

    private static int OurNodes(GraphModule module, Dictionary<string, Tensor> feed, int rounds = 20)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 2) using (GradMode.NoGrad()) module.RunOutputs(feed);
        var best = new Dictionary<string, (string Op, double Ms, int Order)>();
        for (int round = 0; round < rounds; round++)
        {
            long last = Stopwatch.GetTimestamp();
            module.StepFinished = node =>
            {
                long now = Stopwatch.GetTimestamp();
                double ms = Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
                best[node.Name] = best.TryGetValue(node.Name, out var b) ? (node.OpType, Math.Min(b.Ms, ms), b.Order) : (node.OpType, ms, best.Count);
                last = now;
            };
            using (GradMode.NoGrad()) module.RunOutputs(feed);
            module.StepFinished = null;
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        int collections = GC.CollectionCount(0);
        using (GradMode.NoGrad()) module.RunOutputs(feed);
        Console.WriteLine($"our nodes, best of {rounds} runs, sum {best.Values.Sum(b => b.Ms):F3} ms; one more run allocated "
            + $"{(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6:F1} MB, {GC.CollectionCount(0) - collections} gen-0 collections");
        foreach (var (name, (op, ms, _)) in best.OrderBy(kv => kv.Value.Order).Where(kv => kv.Value.Ms >= 0.001))
            Console.WriteLine($"  {name,-48} {op,-22} {ms,8:F3} ms");
        return 0;
    }

    private static int OrtNodes(string onnxPath, Dictionary<string, Tensor> feed, int threads, int runs = 50)
    {
        string prefix = Path.Combine(Path.GetTempPath(), $"condense-ortprof-{Environment.ProcessId}");
        var options = OrtOptions(threads);
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = prefix;
        string file;
        using (options)
        using (var session = new InferenceSession(onnxPath, options))
        {
            using var ort = new OrtFeed(session, feed);
            for (int i = 0; i < runs; i++) ort.Run();
            file = session.EndProfiling();
        }
        try
        {
            var best = new Dictionary<string, (string Op, long Micros, int Order)>();
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var e in json.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node") continue;
                string name = e.GetProperty("name").GetString()!;
                if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
                name = name[..^"_kernel_time".Length];
                long micros = e.GetProperty("dur").GetInt64();
                string op = e.GetProperty("args").TryGetProperty("op_name", out var o) ? o.GetString()! : "?";
                best[name] = best.TryGetValue(name, out var b) ? (op, Math.Min(b.Micros, micros), b.Order) : (op, micros, best.Count);
            }
            Console.WriteLine($"ORT nodes, best of {runs} runs ({threads} threads), sum {best.Values.Sum(b => b.Micros) / 1e3:F3} ms");
            foreach (var (name, (op, micros, _)) in best.OrderBy(kv => kv.Value.Order))
                Console.WriteLine($"  {name,-48} {op,-22} {micros / 1e3,8:F3} ms");
            foreach (var group in best.Values.GroupBy(b => b.Op).OrderByDescending(g => g.Sum(b => b.Micros)))
                Console.WriteLine($"  {group.Key,-22} {group.Count(),4} nodes {group.Sum(b => b.Micros) / 1e3,8:F3} ms");
            return 0;
        }
        finally { File.Delete(file); }
    }
}
