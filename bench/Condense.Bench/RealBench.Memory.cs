// Peak working set of ResNet-18 (batch 8) and all-MiniLM-L6-v2 (batch 8 × 128 tokens) inference, ours and ONNX Runtime's,
// each in a fresh process of this benchmark (`real --memory-child ENGINE MODEL`) so that neither sees the other's memory:
// the process loads the model, runs it five times and prints its peak resident set (VmHWM of /proc/self/status). Both
// processes carry the .NET runtime and the same input preparation; the difference is the engine and its model.
using System.Diagnostics;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Tensors;
using Condense.Tests.Pretrained;

namespace Condense.Bench;

internal static partial class RealBench
{
    private static void MemoryTable(string dir)
    {
        Console.WriteLine();
        Console.WriteLine("| peak working set, MB (fresh process each) | ours | ORT | ours/ORT |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var model in new[] { "resnet18", "minilm" })
        {
            double ours = Child("ours", model), ort = Child("ort", model);
            Console.WriteLine($"| {model} batch 8 | {ours:F0} | {ort:F0} | {ours / ort:0.00} |");
        }
    }

    private static double Child(string engine, string model)
    {
        string host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(RealBench).Assembly.Location);
        foreach (var a in new[] { "real", "--memory-child", engine, model }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"memory child {engine} {model} failed: {output}");
        return double.Parse(output.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int MemoryChild(string engine, string model)
    {
        var (path, feed) = model == "resnet18" ? ResNetFeed() : MiniLmFeed();
        if (engine == "ort")
        {
            using var session = Session(path, 2);
            using var ort = new OrtFeed(session, feed);
            for (int i = 0; i < 5; i++) ort.Run();
        }
        else
        {
            var run = Float(model == "resnet18" ? BatchDimension.MakeDynamic(ModelFile.Load(path)) : ModelFile.Load(path));
            for (int i = 0; i < 5; i++) run(feed);
        }
        Console.WriteLine(PeakMegabytes().ToString(System.Globalization.CultureInfo.InvariantCulture));
        return 0;
    }

    private static (string Path, Dictionary<string, Tensor> Feed) ResNetFeed()
    {
        // Eight random images: memory does not depend on the pixels. ORT gets the dynamic-batch file as well.
        var model = BatchDimension.MakeDynamic(ModelFile.Load(PretrainedModels.ResNet18Onnx));
        string path = Path.Combine(Path.GetTempPath(), $"condense-realbench-{Environment.ProcessId}.onnx");
        ModelFile.Save(model.Graph, path);
        var rng = new Random(0);
        var pixels = new Tensor([.. Enumerable.Range(0, 8 * 3 * 224 * 224).Select(_ => (float)rng.NextDouble() * 255 - 128)], [8, 3, 224, 224]);
        var input = model.Graph.Inputs[0].Name;
        model = null;
        GC.Collect();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return (path, new Dictionary<string, Tensor> { [input] = pixels });
    }

    private static (string Path, Dictionary<string, Tensor> Feed) MiniLmFeed()
    {
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        var passages = TextPassages.Read(Path.Combine(TextSpeedBench.RepoRoot(), "data", "text", "fortunes.txt"));
        var names = new[] { "input_ids", "attention_mask", "token_type_ids" };
        return (PretrainedModels.MiniLmOnnx, tokenizer.Batch([.. passages.Take(8)], 128, padTo: 128).Feed(names));
    }

    private static double PeakMegabytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
    }
}
