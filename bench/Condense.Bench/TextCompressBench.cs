// all-MiniLM-L6-v2 made smaller by removing layers, heads, neurons and weights (issue 15), distilled on
// data/text/corpus.txt and measured on data/text/fortunes.txt against the original: fidelity (cosine, top-10 overlap),
// parameters, non-zeros, ONNX file size, the fidelity again through ONNX Runtime, and speed at batch 1 and 32 × 128 tokens
// in ONNX Runtime and in Condense's engine, original and variant in one run (ratios, since the machine is noisy).
//   dotnet run -c Release --project bench/Condense.Bench -- text-compress --variants layers3,layers3-int8,heads-ffn,
//       oneshot-sparsegpt-50,oneshot-wanda-nm,distil-wanda-nm,…  [--passages N (corpus passages, default all)] [--epochs E (default 3)]
//       [--layers 0,3,5] [--lr X] [--hidden-weight W] [--attention-weight W] [--speed]
// Variants: layers3 (3 of 6 layers), heads-ffn (half the heads and half the FFN neurons), oneshot-SCORE-SPARSITY (pruned, no
// fine-tuning; SCORE magnitude|wanda|sparsegpt, SPARSITY 50 or nm for 2:4), distil-SCORE-SPARSITY (pruned, then distilled with
// the masks held); "-int8" after layers3 quantizes the distilled student (dynamic int8, 4-bit embeddings), "-emb8" after
// heads-ffn only its embedding tables (int8 rows; the Linear layers stay float). Wanda and SparseGPT
// calibrate on the first N passages of corpus.txt (--calibration N, default 1,024), and heads-ffn chooses its heads and
// neurons on them (heads-ffn-norms: by weight norms; heads-ffn-sens: half of all heads and neurons, spread over the layers by
// measured sensitivity, WidthAllocation).
using System.Diagnostics;
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Reports;
using Condense.Tests.Pretrained;
using Condense.Training;

namespace Condense.Bench;

internal static class TextCompressBench
{
    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var variants = Option("--variants", "layers3").Split(',');
        string root = TextSpeedBench.RepoRoot();
        var corpus = TextPassages.Read(Path.Combine(root, "data", "text", "corpus.txt"));
        var evaluation = TextPassages.Read(Path.Combine(root, "data", "text", "fortunes.txt"));
        var train = corpus.Take(int.Parse(Option("--passages", corpus.Count.ToString()))).ToList();
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        string teacherPath = PretrainedModels.MiniLmOnnx;
        var teacher = ModelFile.Load(teacherPath);
        var options = new TextDistillOptions
        {
            Epochs = int.Parse(Option("--epochs", "3")),
            LearningRate = float.Parse(Option("--lr", "5e-4"), System.Globalization.CultureInfo.InvariantCulture),
            HiddenWeight = float.Parse(Option("--hidden-weight", "0"), System.Globalization.CultureInfo.InvariantCulture),
            AttentionWeight = float.Parse(Option("--attention-weight", "0"), System.Globalization.CultureInfo.InvariantCulture),
        };
        int[]? layers = args.Contains("--layers") ? [.. Option("--layers", "").Split(',').Select(int.Parse)] : null;
        string dir = Directory.CreateTempSubdirectory("condense-textcompress").FullName;
        var teacherOrt = TextQuantBench.OrtEmbeddings(teacherPath, tokenizer, evaluation);
        Console.WriteLine($"all-MiniLM-L6-v2 ({new FileInfo(teacherPath).Length / 1e6:F1} MB); distilled on {train.Count:N0} passages of corpus.txt, "
            + $"{options.Epochs} epochs, lr {options.LearningRate}; measured on {evaluation.Count} passages of fortunes.txt");
        Console.WriteLine($"{"variant",-22} {"cos before",10} {"top10",6} {"cos after",10} {"top10",6} {"ORT cos",8} {"params",11} {"non-zero",11} "
            + $"{"MB",6} {"% orig",7} {"distil s",9}");
        foreach (var variant in variants)
        {
            var clock = Stopwatch.StartNew();
            var progress = new Progress<TrainProgress>(p =>
            {
                if (p.Batch % 50 == 0) Console.Error.WriteLine($"  {variant}: epoch {p.Epoch}/{p.Epochs} step {p.Batch}/{p.Batches} loss {p.RunningLoss:F4} "
                    + $"{clock.Elapsed.TotalSeconds:F0}s");
            });
            var calibration = corpus.Take(int.Parse(Option("--calibration", "1024"))).ToList();
            GraphModule model;
            TextFidelity before, after;
            double seconds;
            string epochs = "";
            if (variant.StartsWith("oneshot-", StringComparison.Ordinal))
            {
                // One-shot pruning, no fine-tuning: oneshot-{magnitude|wanda|sparsegpt}-{50|nm}.
                var prune = PruneFor(variant["oneshot-".Length..], args);
                var sweep = new Progress<(int Done, int Total)>(p =>
                {
                    if (p.Done % 8 == 0) Console.Error.WriteLine($"  {variant}: sensitivity {p.Done}/{p.Total} {clock.Elapsed.TotalSeconds:F0}s");
                });
                var (pruned, r) = TextPrunePipeline.Apply(teacher, tokenizer, evaluation, prune, new Inference.EmbeddingOptions(), null, calibration, sweep);
                if (prune.Allocation == SparsityAllocation.Sensitivity)
                    Console.WriteLine("    by tensor: " + string.Join(" ", r.Tensors.Select(t => $"{t.Name}={t.Sparsity:F3}")));
                (model, seconds) = (pruned, r.Seconds);
                before = after = new TextFidelity(r.CosineMean, r.CosineMin, r.TopKOverlap, r.Spearman);
            }
            else
            {
                var student = variant switch
                {
                    "layers3" or "layers3-int8" => new TextStudentOptions { Layers = layers, Depth = layers is null ? 3 : null },
                    "heads-ffn" or "heads-ffn-emb8" => new TextStudentOptions { HeadFraction = 0.5, FeedForwardFraction = 0.5, Calibration = calibration },
                    "heads-ffn-norms" => new TextStudentOptions { HeadFraction = 0.5, FeedForwardFraction = 0.5 },
                    "heads-ffn-sens" or "heads-ffn-sens-emb8" => new TextStudentOptions
                    {
                        HeadFraction = 0.5, FeedForwardFraction = 0.5, Calibration = calibration, Allocation = SparsityAllocation.Sensitivity,
                    },
                    _ when variant.StartsWith("distil-", StringComparison.Ordinal) =>
                        new TextStudentOptions { Prune = PruneFor(variant["distil-".Length..], args), Calibration = calibration },
                    _ => throw new CondenseException($"unknown variant '{variant}'"),
                };
                var (distilled, report) = TextDistillPipeline.Apply(teacher, tokenizer, train, evaluation, student, options, progress);
                (model, before, after, seconds) = (distilled, report.Before, report.After, report.Seconds);
                epochs = string.Join("; ", report.Epochs.Select(e => $"{e.Epoch}: loss {e.Loss:F4} in {e.Seconds:F0}s"));
            }
            bool embeddingsOnly = variant.EndsWith("-emb8", StringComparison.Ordinal);
            string name = variant.EndsWith("-int8", StringComparison.Ordinal) || embeddingsOnly ? variant[..^"-int8".Length] : variant;
            Report(name, model, before, after, seconds);
            if (epochs.Length > 0) Console.WriteLine($"    epochs: {epochs}");
            if (name != variant)
            {
                // The distilled student quantized: dynamic int8 Linear layers and 4-bit embedding tables (blocks of 32), or (-emb8) only
                // the embedding tables, int8 rows.
                var quantize = embeddingsOnly ? new QuantizeOptions { Layers = false }
                    : new QuantizeOptions { Mode = QuantizationMode.Dynamic, EmbeddingBits = 4 };
                var (quantized, q) = TextQuantizePipeline.Apply(model, tokenizer, [.. evaluation.Take(evaluation.Count / 2)], evaluation,
                    quantize, new Inference.EmbeddingOptions());
                var reference = new Inference.SentenceEmbedder(teacher, tokenizer).Embed(evaluation);
                var fidelity = TextFidelity.Of(Fidelity.Measure(new Inference.SentenceEmbedder(quantized, tokenizer).Embed(evaluation), reference));
                Console.WriteLine($"    {(embeddingsOnly ? "int8 embeddings only" : "int8 dynamic, 4-bit embeddings")}: cosine to the distilled float "
                    + $"student {q.CosineMean:F4}");
                Report(variant, quantized, before, fidelity, seconds + q.Seconds);
            }
        }
        Directory.Delete(dir, true);
        return 0;

        // One line per variant: fidelity (ours and ONNX Runtime's on the saved file), sizes; then speed when asked.
        void Report(string variant, GraphModule model, TextFidelity before, TextFidelity after, double seconds)
        {
            string path = Path.Combine(dir, variant + ".onnx");
            ModelFile.Save(model.Graph, path);
            long bytes = new FileInfo(path).Length;
            var ort = Fidelity.Measure(TextQuantBench.OrtEmbeddings(path, tokenizer, evaluation), teacherOrt);
            var summary = ModelSummary.Of(model);
            Console.WriteLine($"{variant,-22} {before.CosineMean,10:F4} {before.TopKOverlap,6:F3} {after.CosineMean,10:F4} {after.TopKOverlap,6:F3} "
                + $"{ort.CosineMean,8:F4} {summary.Parameters,11:N0} {summary.NonzeroParameters,11:N0} {bytes / 1e6,6:F1} "
                + $"{100.0 * bytes / new FileInfo(teacherPath).Length,6:F1}% {seconds,9:F0}");
            if (args.Contains("--speed")) TextSpeedBench.Compare(teacherPath, path, teacher, model, tokenizer, evaluation);
        }
    }

    // "50": half of every Linear's weights; "nm": 2:4; scored by magnitude, wanda or sparsegpt ("wanda-nm", "sparsegpt-50", …);
    // "-sens" after a sparsity spreads it by measured sensitivity ("sparsegpt-50-sens"). --exclude PATTERN,… leaves tensors dense.
    private static PruneOptions PruneFor(string spec, string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var parts = spec.Split('-');
        var exclude = args.Contains("--exclude") ? Option("--exclude", "").Split(',') : [];
        int samples = int.Parse(Option("--sensitivity-samples", PruneOptions.DefaultSensitivitySamples.ToString()));
        var allocation = parts.Length > 2 && parts[2] == "sens" ? SparsityAllocation.Sensitivity : SparsityAllocation.Uniform;
        var score = parts[0] switch
        {
            "magnitude" => PruneScore.Magnitude, "wanda" => PruneScore.Wanda, "sparsegpt" => PruneScore.SparseGpt,
            _ => throw new CondenseException($"unknown score '{parts[0]}'"),
        };
        return parts[1] == "nm" ? new PruneOptions { Method = PruneMethod.NM, N = 2, M = 4, Score = score, Exclude = exclude }
            : new PruneOptions
            {
                Method = PruneMethod.Magnitude, Sparsity = int.Parse(parts[1]) / 100.0, Score = score, Exclude = exclude,
                Allocation = allocation, SensitivitySamples = samples,
            };
    }
}
