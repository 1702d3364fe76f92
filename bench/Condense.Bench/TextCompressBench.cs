// all-MiniLM-L6-v2 made smaller by removing layers, heads, neurons and weights (issue 15), distilled on
// data/text/corpus.txt and measured on data/text/fortunes.txt against the original: fidelity (cosine, top-10 overlap),
// parameters, non-zeros, ONNX file size, the fidelity again through ONNX Runtime, and speed at batch 1 and 32 × 128 tokens
// in ONNX Runtime and in Condense's engine, original and variant in one run (ratios, since the machine is noisy).
//   dotnet run -c Release --project bench/Condense.Bench -- text-compress --variants layers3,layers3-int8
//       [--passages N (corpus passages, default all)] [--epochs E (default 3)] [--layers 0,2,4] [--lr X] [--speed]
using System.Diagnostics;
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
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
        };
        int[]? layers = args.Contains("--layers") ? [.. Option("--layers", "").Split(',').Select(int.Parse)] : null;
        string dir = Directory.CreateTempSubdirectory("condense-textcompress").FullName;
        var teacherOrt = TextQuantBench.OrtEmbeddings(teacherPath, tokenizer, evaluation);
        Console.WriteLine($"all-MiniLM-L6-v2 ({new FileInfo(teacherPath).Length / 1e6:F1} MB); distilled on {train.Count:N0} passages of corpus.txt, "
            + $"{options.Epochs} epochs, lr {options.LearningRate}; measured on {evaluation.Count} passages of fortunes.txt");
        Console.WriteLine($"{"variant",-16} {"cos before",10} {"top10",6} {"cos after",10} {"top10",6} {"ORT cos",8} {"params",11} {"non-zero",11} "
            + $"{"MB",6} {"% orig",7} {"distil s",9}");
        foreach (var variant in variants)
        {
            var clock = Stopwatch.StartNew();
            var progress = new Progress<TrainProgress>(p =>
            {
                if (p.Batch % 50 == 0) Console.Error.WriteLine($"  {variant}: epoch {p.Epoch}/{p.Epochs} step {p.Batch}/{p.Batches} loss {p.RunningLoss:F4} "
                    + $"{clock.Elapsed.TotalSeconds:F0}s");
            });
            var student = variant switch
            {
                "layers3" or "layers3-int8" => new TextStudentOptions { Layers = layers, Depth = layers is null ? 3 : null },
                _ => throw new CondenseException($"unknown variant '{variant}'"),
            };
            var (model, report) = TextDistillPipeline.Apply(teacher, tokenizer, train, evaluation, student, options, progress);
            var before = report.Before;
            var after = report.After;
            if (variant.EndsWith("-int8", StringComparison.Ordinal))
            {
                var half = evaluation.Count / 2;
                var (quantized, q) = TextQuantizePipeline.Apply(model, tokenizer, [.. evaluation.Take(half)], evaluation,
                    new QuantizeOptions { Mode = QuantizationMode.Dynamic }, new Inference.EmbeddingOptions());
                model = quantized;
                var reference = new Inference.SentenceEmbedder(teacher, tokenizer).Embed(evaluation);
                after = TextFidelity.Of(Fidelity.Measure(new Inference.SentenceEmbedder(model, tokenizer).Embed(evaluation), reference));
                Console.WriteLine($"    int8 dynamic: cosine to the distilled float student {q.CosineMean:F4}");
            }
            string path = Path.Combine(dir, variant + ".onnx");
            ModelFile.Save(model.Graph, path);
            long bytes = new FileInfo(path).Length;
            var ort = Fidelity.Measure(TextQuantBench.OrtEmbeddings(path, tokenizer, evaluation), teacherOrt);
            var summary = ModelSummary.Of(model);
            Console.WriteLine($"{variant,-16} {before.CosineMean,10:F4} {before.TopKOverlap,6:F3} {after.CosineMean,10:F4} {after.TopKOverlap,6:F3} "
                + $"{ort.CosineMean,8:F4} {summary.Parameters,11:N0} {summary.NonzeroParameters,11:N0} {bytes / 1e6,6:F1} "
                + $"{100.0 * bytes / new FileInfo(teacherPath).Length,6:F1}% {report.Seconds,9:F0}");
            Console.WriteLine($"    epochs: {string.Join("; ", report.Epochs.Select(e => $"{e.Epoch}: loss {e.Loss:F4} in {e.Seconds:F0}s"))}");
            if (args.Contains("--speed")) TextSpeedBench.Compare(teacherPath, path, teacher, model, tokenizer, evaluation);
        }
        Directory.Delete(dir, true);
        return 0;
    }
}
