// Any ONNX file against ONNX Runtime, in one run: `file MODEL.onnx@1x3x224x224 …` feeds uniform [0, 1) floats of that
// shape to the model's first input; `file MODEL.onnx --tokens 1x128` feeds token ids (1000–20000, seed 1) to every input
// whose name holds neither "mask" (all ones), "type" (zeros) nor "position" (0, 1, …). Condense runs the model as
// InferenceEngine.Compile does (fusions, integer engines); ORT with all optimizations, two intra-op threads and no
// spinning (its idle threads would otherwise steal our time). Both first run ~3 s alternately to warm up; then 40
// alternating calls each, the median of the last 35 reported with ORT/ours (above 1: Condense is faster), and the
// largest difference between the two first outputs relative to ORT's largest value. `--profile` adds the time per op
// type (the gaps between Condense's steps, averaged over 20 passes; `--by-node` the 60 slowest nodes, an inverted residual
// block run as one pass named by its last node), or for the integer engine its per-step profile; `--channels-first` keeps
// a float graph off the channels-last path and `--unfused-blocks` runs an inverted residual block's layers in turn (to
// compare the two ways); `--split-small` / `--keep-small` fix the integer engine's choice for its small layers, which it
// otherwise measures on its first calls (Inference/IntegerConvModel.SplitTrial.cs).
using System.Diagnostics;
using Condense.Autograd;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Bench;

/// <summary>`file`: ms per forward of an ONNX file in Condense and in ONNX Runtime, and the ratio.</summary>
internal static class FileBench
{
    public static int Run(string[] args)
    {
        bool profile = args.Contains("--profile");
        int tokensAt = Array.IndexOf(args, "--tokens");
        int[]? tokenShape = tokensAt >= 0 && tokensAt + 1 < args.Length ? Shape(args[tokensAt + 1]) : null;
        var files = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (tokensAt < 0 || i != tokensAt + 1)).ToArray();
        if (files.Length == 0)
        {
            Console.Error.WriteLine("usage: file MODEL.onnx@NxCxHxW … [--profile] | file MODEL.onnx --tokens BxT [--profile]");
            return 2;
        }
        foreach (var file in files)
        {
            var parts = file.Split('@');
            var options = new SessionOptions { IntraOpNumThreads = 2 };
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            using var session = new InferenceSession(parts[0], options);
            var compiled = InferenceEngine.Compile(ModelFile.Load(parts[0]));
            // A graph runs by its named inputs; an integer engine (a static int8 CNN) by its one image input.
            if (compiled.FallbackReason is { } why) Console.WriteLine($"{Path.GetFileName(parts[0])}: runs as {compiled.Kind}: {why}");
            var runner = compiled.Runner;
            runner.Eval();
            var graph = runner as GraphModule;
            if (graph is not null && args.Contains("--channels-first")) graph.ChannelsLastInference = false;
            if (graph is not null && args.Contains("--unfused-blocks")) graph.InvertedBlockInference = false;
            if (runner is IntegerConvModel forcedEngine && (args.Contains("--split-small") || args.Contains("--keep-small")))
                forcedEngine.SplitSmallLayers = args.Contains("--split-small");
            if (graph is null && tokenShape is not null) { Console.Error.WriteLine($"{parts[0]}: compiled to {compiled.Kind}, which takes images"); return 1; }
            var (feeds, theirs) = tokenShape is null ? ImageFeeds(graph?.Graph.Inputs[0].Name ?? "input", session, Shape(parts[1]))
                : TokenFeeds(graph!, session, tokenShape);
            float[] Ours()
            {
                using var _ = GradMode.NoGrad();
                return graph is null ? runner.Forward(feeds.Values.First()).Data : graph.RunOutputs(feeds)[graph.Graph.Outputs[0].Name].Data;
            }
            double Time(Action action) { var sw = Stopwatch.StartNew(); action(); return sw.Elapsed.TotalMilliseconds; }
            void Ort() { using var _ = session.Run(theirs); }
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 3) { Ours(); Ort(); }
            var (oursMs, ortMs) = (new List<double>(), new List<double>());
            for (int r = 0; r < 40; r++) { oursMs.Add(Time(() => Ours())); ortMs.Add(Time(Ort)); }
            double Median(List<double> times) => times.Skip(5).Order().ElementAt(17);
            if (profile && graph is not null) Profile(graph, feeds, args.Contains("--by-node"));
            else if (profile && runner is IntegerConvModel engine) Int8ResNetProfile.Print(engine, feeds.Values.First(), 5);
            if (runner is IntegerConvModel measured && measured.SplitSmallLayers is null)
            {
                string choice = measured.SplitChosen(feeds.Values.First().Shape[0]) switch { true => "split", false => "on one thread", _ => "not chosen yet" };
                Console.WriteLine($"small int8 layers (measured on the first calls): {choice}");
            }
            string input = tokenShape is null ? parts[1] : string.Join('x', tokenShape) + " tokens";
            Console.WriteLine($"{Path.GetFileName(parts[0])} {input} ({compiled.Kind}): ours {Median(oursMs):F2} ms, ORT {Median(ortMs):F2} ms, "
                + $"ORT/ours {Median(ortMs) / Median(oursMs):F2}; {Agreement(Ours(), session, theirs)}");
        }
        return 0;
    }

    private static int[] Shape(string text) => [.. text.Split('x').Select(int.Parse)];

    private static (Dictionary<string, Tensor>, List<NamedOnnxValue>) ImageFeeds(string input, InferenceSession session, int[] shape)
    {
        var rng = new Random(1);
        var data = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)rng.NextDouble();
        return (new() { [input] = new Tensor(data, shape) },
            [NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), new DenseTensor<float>(data, shape))]);
    }

    private static (Dictionary<string, Tensor>, List<NamedOnnxValue>) TokenFeeds(GraphModule ours, InferenceSession session, int[] shape)
    {
        int count = shape[0] * shape[1];
        var rng = new Random(1);
        var ids = Enumerable.Range(0, count).Select(_ => (long)rng.Next(1000, 20000)).ToArray();
        long[] Values(string name) => name.Contains("mask", StringComparison.Ordinal) ? [.. Enumerable.Repeat(1L, count)]
            : name.Contains("type", StringComparison.Ordinal) ? new long[count]
            : name.Contains("position", StringComparison.Ordinal) ? [.. Enumerable.Range(0, count).Select(i => (long)(i % shape[1]))] : ids;
        var feeds = ours.Graph.Inputs.ToDictionary(input => input.Name, input => Tensor.FromInt64s(Values(input.Name), DataType.Int64, shape));
        var theirs = session.InputMetadata.Keys.Select(name => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(Values(name), shape))).ToList();
        return (feeds, theirs);
    }

    private static string Agreement(float[] mine, InferenceSession session, List<NamedOnnxValue> theirs)
    {
        using var results = session.Run(theirs);
        var reference = results.First().AsEnumerable<float>().ToArray();
        double largest = reference.Max(v => Math.Abs(v)), difference = 0;
        for (int i = 0; i < reference.Length; i++) difference = Math.Max(difference, Math.Abs(mine[i] - reference[i]));
        // An untrained head may be all zeros (torchvision's ViT): then the difference itself.
        return largest == 0 ? $"max |ours − ORT| {difference:E2} (ORT's output is all zeros)" : $"max |ours − ORT| / max |ORT| {difference / largest:E2}";
    }

    private static void Profile(GraphModule ours, Dictionary<string, Tensor> feeds, bool byNode)
    {
        var times = new Dictionary<string, (double Ms, int Count)>();
        long wall = 0;
        ours.StepFinished = node =>
        {
            long now = Stopwatch.GetTimestamp();
            double ms = Stopwatch.GetElapsedTime(wall, now).TotalMilliseconds;
            string key = byNode ? $"{node.OpType} {node.Name}" : node.OpType;
            times[key] = times.TryGetValue(key, out var t) ? (t.Ms + ms, t.Count + 1) : (ms, 1);
            wall = now;
        };
        const int passes = 20;
        for (int pass = 0; pass < passes; pass++)
            using (GradMode.NoGrad()) { wall = Stopwatch.GetTimestamp(); ours.RunOutputs(feeds); }
        ours.StepFinished = null;
        foreach (var (op, (ms, count)) in times.OrderByDescending(kv => kv.Value.Ms).Take(byNode ? 60 : 15))
            Console.WriteLine($"  {(op.Length > 60 ? op[..60] : op),-60} {count / passes,5} steps {ms / passes,8:F3} ms");
    }
}
