// `real --profile NAME --ort --nodes`: ONNX Runtime's own per-node times (its profiler, SessionOptions.EnableProfiling) for
// the case, the best of the timed runs per node, printed in graph order beside the op type: the peer's side of
// `--profile NAME --steps`. ORT's times include its profiling, so they are upper bounds of a plain run's.
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Condense.Tensors;

namespace Condense.Bench;

internal static partial class RealBench
{
    private static int OrtNodes(string onnxPath, Dictionary<string, Tensor> feed, int threads, int runs = 50)
    {
        string prefix = Path.Combine(Path.GetTempPath(), $"condense-ortprof-{Environment.ProcessId}");
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
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
