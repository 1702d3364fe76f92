// The speed of an original text encoder and a smaller variant in one run: ONNX Runtime on both exported files and
// Condense's engine on both graphs, at batch 1 (one passage, as it comes) and batch 32 × 128 tokens, interleaved, best
// of five; the ratios say how much faster the variant is.
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Graph;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

internal static class TextSpeedBench
{
    public static void Compare(string originalPath, string variantPath, GraphModule original, GraphModule variant, TextTokenizer tokenizer,
        IReadOnlyList<string> passages)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        using var ortOriginal = new InferenceSession(originalPath, options);
        using var ortVariant = new InferenceSession(variantPath, options);
        foreach (var (label, batch) in new[] { ("batch 1", tokenizer.Batch([passages[0]], 128)),
            ("batch 32×128", tokenizer.Batch([.. Enumerable.Range(0, 32).Select(i => passages[i % passages.Count])], 128, padTo: 128)) })
        {
            double[] best = [double.MaxValue, double.MaxValue, double.MaxValue, double.MaxValue];
            for (int r = 0; r < 6; r++)
            {
                double[] t = [Ort(ortOriginal, batch), Ort(ortVariant, batch), Ours(original, batch), Ours(variant, batch)];
                // The first round warms up.
                if (r > 0) for (int i = 0; i < 4; i++) best[i] = Math.Min(best[i], t[i]);
            }
            Console.WriteLine($"    {label,-13} ms: ORT original {best[0]:F1}, variant {best[1]:F1} ({best[0] / best[1]:F2}× faster); "
                + $"Condense original {best[2]:F1}, variant {best[3]:F1} ({best[2] / best[3]:F2}× faster); "
                + $"ORT/Condense on the variant {best[3] / best[1]:F2}×");
        }
    }

    private static double Ort(InferenceSession session, TextBatch batch)
    {
        var feed = batch.Feed(session.InputMetadata.Keys);
        var values = feed.Select(kv => OrtValue.CreateTensorValueFromMemory(kv.Value.Int64Data.ToArray(), kv.Value.Shape.Select(d => (long)d).ToArray()))
            .ToList();
        try
        {
            var clock = Stopwatch.StartNew();
            using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
            using var results = session.Run(runOptions, [.. feed.Keys], values, [session.OutputMetadata.Keys.First()]);
            return clock.Elapsed.TotalMilliseconds;
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    private static double Ours(GraphModule model, TextBatch batch)
    {
        var feed = batch.Feed(model.Graph.Inputs.Select(i => i.Name));
        model.Eval();
        using var _ = GradMode.NoGrad();
        var clock = Stopwatch.StartNew();
        model.RunOutputs(feed);
        return clock.Elapsed.TotalMilliseconds;
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Condense.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Condense.slnx) not found");
    }
}
