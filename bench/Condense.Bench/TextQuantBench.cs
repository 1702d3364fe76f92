// all-MiniLM-L6-v2 on data/text/fortunes.txt (issue 14): each quantized variant's fidelity to the float model on the
// held-out half of the passages (calibration on the first half), its ONNX file size, and ONNX Runtime on the exported
// files — the same fidelity measured through ORT, and ORT's fp32 and quantized speed at batch 8 × 128 in one run,
// beside Condense's own engine on the same inputs.
//   dotnet run -c Release --project bench/Condense.Bench -- text-quant [--variants dynamic,dynamic-emb4,static,...] [--passages N]
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Reports;
using Condense.Tensors;
using Condense.Tests.Pretrained;
using Microsoft.ML.OnnxRuntime;

namespace Condense.Bench;

internal static class TextQuantBench
{
    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var variants = Option("--variants", "dynamic").Split(',');
        var passages = TextPassages.Read(Path.Combine(TextSpeedBench.RepoRoot(), "data", "text", "fortunes.txt"));
        int half = passages.Count / 2;
        var calibration = passages.Take(half).ToList();
        var evaluation = passages.Skip(half).ToList();
        string floatPath = PretrainedModels.MiniLmOnnx;
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        var model = new GraphModule(OnnxImporter.Import(floatPath));
        var embedding = new EmbeddingOptions();
        string dir = Directory.CreateTempSubdirectory("condense-textquant").FullName;
        Console.WriteLine($"all-MiniLM-L6-v2, {calibration.Count} calibration / {evaluation.Count} held-out passages of fortunes.txt; "
            + $"fp32 {new FileInfo(floatPath).Length / 1e6:F1} MB");
        var floatOrt = OrtEmbeddings(floatPath, tokenizer, evaluation);
        Console.WriteLine($"{"variant",-22} {"cosine",8} {"min",8} {"top10",7} {"spearman",9} {"MB",7} {"% fp32",7} {"ORT cos",8} {"s",6}");
        foreach (var variant in variants)
        {
            // "-nbits": the int4 model written as ONNX Runtime's MatMulNBits instead of blocked DequantizeLinear; "-qop": the
            // dynamic int8 model as MatMulInteger chains (ONNX Runtime's quantize_dynamic layout).
            bool nbits = variant.EndsWith("-nbits", StringComparison.Ordinal), qop = variant.EndsWith("-qop", StringComparison.Ordinal);
            var options = Options(nbits ? variant[..^"-nbits".Length] : qop ? variant[..^"-qop".Length] : variant);
            var clock = Stopwatch.StartNew();
            var (quantized, report) = TextQuantizePipeline.Apply(model, tokenizer, calibration, evaluation, options, embedding);
            string path = Path.Combine(dir, variant + ".onnx");
            if (nbits) ModelFile.Save(quantized.Graph, path, Onnx.QuantizedOnnxFormat.MatMulNBits);
            else if (qop) ModelFile.Save(quantized.Graph, path, Onnx.QuantizedOnnxFormat.QOperator);
            else ModelFile.Save(quantized.Graph, path);
            long bytes = new FileInfo(path).Length;
            var ortFidelity = Fidelity.Measure(OrtEmbeddings(path, tokenizer, evaluation), floatOrt);
            Console.WriteLine($"{variant,-22} {report.CosineMean,8:F4} {report.CosineMin,8:F4} {report.TopKOverlap,7:F3} {report.Spearman,9:F4} "
                + $"{bytes / 1e6,7:F1} {100.0 * bytes / new FileInfo(floatPath).Length,6:F1}% {ortFidelity.CosineMean,8:F4} {clock.Elapsed.TotalSeconds,6:F1}");
            if (args.Contains("--speed")) Speed(floatPath, path, model, quantized, tokenizer, evaluation);
        }
        Directory.Delete(dir, true);
        return 0;
    }

    private static QuantizeOptions Options(string variant) => variant switch
    {
        _ when variant.StartsWith("static-smoothquant-", StringComparison.Ordinal) => new QuantizeOptions
            {
                Mode = QuantizationMode.Static,
                SmoothQuantAlpha = double.Parse(variant["static-smoothquant-".Length..], System.Globalization.CultureInfo.InvariantCulture),
            },
        "dynamic" => new QuantizeOptions { Mode = QuantizationMode.Dynamic },
        // Embedding tables in 4 bits (a scale per 32 columns, or per N with -N) instead of int8: the word embeddings are half of MiniLM.
        "dynamic-emb4" => new QuantizeOptions { Mode = QuantizationMode.Dynamic, EmbeddingBits = 4 },
        _ when variant.StartsWith("dynamic-emb4-", StringComparison.Ordinal) => new QuantizeOptions
            { Mode = QuantizationMode.Dynamic, EmbeddingBits = 4, EmbeddingBlockSize = int.Parse(variant["dynamic-emb4-".Length..]) },
        "static" => new QuantizeOptions { Mode = QuantizationMode.Static },
        "static-smoothquant" => new QuantizeOptions { Mode = QuantizationMode.Static, SmoothQuantAlpha = 0.5 },
        "int4-rtn" => new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 32 },
        "int4-gptq" => new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 32, Rounding = WeightRounding.Gptq },
        "int4-awq" => new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 32, Rounding = WeightRounding.Awq },
        "int8-weightonly" => new QuantizeOptions { Mode = QuantizationMode.WeightOnly },
        _ => throw new CondenseException($"unknown variant '{variant}'"),
    };

    // Sentence embeddings computed by ONNX Runtime (mean pooled over the mask, normalised), one passage per call.
    internal static float[][] OrtEmbeddings(string path, TextTokenizer tokenizer, IReadOnlyList<string> passages)
    {
        using var session = new InferenceSession(path);
        var names = session.InputMetadata.Keys.ToList();
        return [.. passages.Select(p =>
        {
            var feed = tokenizer.Batch([p], 128).Feed(names);
            using var values = new DisposableList(feed.Select(kv => OrtValue.CreateTensorValueFromMemory(kv.Value.Int64Data.ToArray(),
                kv.Value.Shape.Select(d => (long)d).ToArray())));
            using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
            using var results = session.Run(runOptions, [.. feed.Keys], values.Items, ["last_hidden_state"]);
            var states = results[0].GetTensorDataAsSpan<float>();
            int dim = states.Length / feed["input_ids"].Size;
            var mean = new double[dim];
            int tokens = feed["input_ids"].Size;
            for (int t = 0; t < tokens; t++) for (int d = 0; d < dim; d++) mean[d] += states[t * dim + d] / tokens;
            double norm = Math.Sqrt(mean.Sum(v => v * v));
            return mean.Select(v => (float)(v / norm)).ToArray();
        })];
    }

    // ORT fp32 and quantized at batch 8 × 128, alternately, best of several runs; Condense's engine on the same batch.
    private static void Speed(string floatPath, string quantizedPath, GraphModule model, GraphModule quantized, TextTokenizer tokenizer,
        IReadOnlyList<string> passages)
    {
        var batch = tokenizer.Batch([.. passages.Take(8)], 128, padTo: 128);
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var fp32 = new InferenceSession(floatPath, options);
        using var int8 = new InferenceSession(quantizedPath, options);
        double Ort(InferenceSession s)
        {
            var feed = batch.Feed(s.InputMetadata.Keys);
            using var values = new DisposableList(feed.Select(kv => OrtValue.CreateTensorValueFromMemory(kv.Value.Int64Data.ToArray(),
                kv.Value.Shape.Select(d => (long)d).ToArray())));
            var clock = Stopwatch.StartNew();
            using var runOptions = new RunOptions(); // kept alive: ORT reads it during Run (TypedParity says why)
            using var results = s.Run(runOptions, [.. feed.Keys], values.Items, ["last_hidden_state"]);
            return clock.Elapsed.TotalMilliseconds;
        }
        double Ours(GraphModule m)
        {
            var feed = batch.Feed(m.Graph.Inputs.Select(i => i.Name));
            m.Eval();
            using var _ = GradMode.NoGrad();
            var clock = Stopwatch.StartNew();
            m.Run(feed);
            return clock.Elapsed.TotalMilliseconds;
        }
        Ort(fp32); Ort(int8); Ours(model); Ours(quantized);
        double ortFloat = double.MaxValue, ortInt8 = double.MaxValue, oursFloat = double.MaxValue, oursInt8 = double.MaxValue;
        for (int r = 0; r < 5; r++)
        {
            ortFloat = Math.Min(ortFloat, Ort(fp32)); ortInt8 = Math.Min(ortInt8, Ort(int8));
            oursFloat = Math.Min(oursFloat, Ours(model)); oursInt8 = Math.Min(oursInt8, Ours(quantized));
        }
        Console.WriteLine($"    batch 8×128 ms: ORT fp32 {ortFloat:F1}, ORT quantized {ortInt8:F1} ({ortFloat / ortInt8:F2}× faster); "
            + $"Condense fp32 {oursFloat:F1}, quantized {oursInt8:F1}; ORT/Condense fp32 {oursFloat / ortFloat:F2}×");
    }

    private sealed class DisposableList(IEnumerable<OrtValue> values) : IDisposable
    {
        public IReadOnlyCollection<OrtValue> Items { get; } = [.. values];
        public void Dispose() { foreach (var v in Items) v.Dispose(); }
    }
}
