// Peak working set of ResNet-18 (batch 8) and all-MiniLM-L6-v2 (batch 8 × 128 tokens) inference, ours and ONNX Runtime's,
// each in a fresh process of this benchmark (`real --memory-child ENGINE MODEL FILE`) so that neither sees the other's
// memory: the process loads the model, runs it five times and prints its peak resident set (VmHWM of /proc/self/status).
// Both processes carry the .NET runtime and the same input preparation; the difference is the engine and its model.
// ResNet-18's file with a dynamic batch dimension is made here, once, so that the children's peaks do not include making
// it (they did: about 500 MB of each child's peak was that preparation, not inference).
using System.Diagnostics;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Kernels.Conv;
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
        string resnet = Path.Combine(dir, "resnet18-dynamic-batch.onnx");
        ModelFile.Save(BatchDimension.MakeDynamic(ModelFile.Load(PretrainedModels.ResNet18Onnx)).Graph, resnet);
        foreach (var (model, file) in new[] { ("resnet18", resnet), ("minilm", PretrainedModels.MiniLmOnnx) })
        {
            double ours = Child("ours", model, file), ort = Child("ort", model, file);
            Console.WriteLine($"| {model} batch 8 | {ours:F0} | {ort:F0} | {ours / ort:0.00} |");
        }
    }

    private static double Child(string engine, string model, string file)
    {
        string host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(RealBench).Assembly.Location);
        foreach (var a in new[] { "real", "--memory-child", engine, model, file }) start.ArgumentList.Add(a);
        if (Conv2dWinograd.Mode == WinogradMode.Off) { start.ArgumentList.Add("--winograd"); start.ArgumentList.Add("off"); }
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"memory child {engine} {model} failed: {output}");
        return double.Parse(output.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int MemoryChild(string engine, string model, string path)
    {
        var feed = model == "resnet18" ? ResNetFeed() : MiniLmFeed();
        if (engine == "ort")
        {
            using var session = Session(path, 2);
            using var ort = new OrtFeed(session, feed);
            for (int i = 0; i < 5; i++) ort.Run();
        }
        else
        {
            var run = Float(ModelFile.Load(path));
            for (int i = 0; i < 5; i++) run(feed);
        }
        Console.WriteLine(PeakMegabytes().ToString(System.Globalization.CultureInfo.InvariantCulture));
        return 0;
    }

    private static Dictionary<string, Tensor> ResNetFeed()
    {
        // Eight random images for the package's input Input247: memory does not depend on the pixels.
        var rng = new Random(0);
        var pixels = new float[8 * 3 * 224 * 224];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)rng.NextDouble() * 255 - 128;
        return new Dictionary<string, Tensor> { ["Input247"] = new Tensor(pixels, [8, 3, 224, 224]) };
    }

    private static Dictionary<string, Tensor> MiniLmFeed()
    {
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        var passages = TextPassages.Read(Path.Combine(TextSpeedBench.RepoRoot(), "data", "text", "fortunes.txt"));
        var names = new[] { "input_ids", "attention_mask", "token_type_ids" };
        return tokenizer.Batch([.. passages.Take(8)], 128, padTo: 128).Feed(names);
    }

    private static double PeakMegabytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
    }
}
