// The README's C# blocks, compiled and run as written (Roslyn scripting), so they can never drift from
// the library. The C# blocks under one heading are one program, run in order as a reader reads them. Two edits keep the run short and out of the repo: every
// `Epochs = N` (and `TrainOptions.For(spec)`) trains one epoch, and model file names point into a temp
// folder (a repo-relative path that exists, such as a test fixture, is copied there first).
using System.Text.RegularExpressions;
using Condense.Graph;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace Condense.Tests;

public sealed partial class ReadmeExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-readme-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The README's C# programs, in order, each a list of blocks.</summary>
    public static List<List<string>> Programs()
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        var programs = new List<List<string>>();
        foreach (string section in Heading().Split(readme))
        {
            var blocks = CSharpBlock().Matches(section).Select(m => m.Groups[1].Value).ToList();
            if (blocks.Count > 0) programs.Add(blocks);
        }
        return programs;
    }

    public static TheoryData<int> ProgramIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Programs().Count; i++) data.Add(i);
        return data;
    }

    [Fact]
    public void ReadmeHasTheUseItFromCSharpProgram()
    {
        var programs = Programs();
        Assert.True(programs.Count >= 2, $"expected at least 2 C# programs in the README, found {programs.Count}");
        Assert.Contains(programs, p => p[0].Contains("ModelFile.Load(") && p[0].Contains(".onnx") && p[0].Contains("Quantizer.Quantize"));
    }

    [Theory]
    [MemberData(nameof(ProgramIndices))]
    public async Task ReadmeProgramRunsAsWritten(int index)
    {
        var blocks = Programs()[index];
        var options = ScriptOptions.Default
            .AddReferences(typeof(ModelGraph).Assembly, typeof(Console).Assembly, typeof(Enumerable).Assembly)
            .AddImports("System", "System.Linq", "System.Collections.Generic");
        ScriptState<object>? state = null;
        foreach (string block in blocks)
        {
            string code = Rewrite(block);
            state = state is null ? await CSharpScript.RunAsync(code, options) : await state.ContinueWithAsync(code, options);
        }
        // Every model file the program names as an output exists and loads back.
        foreach (Match m in ModelPath().Matches(string.Concat(blocks)))
        {
            string path = Path.Combine(_dir, m.Groups[1].Value);
            Assert.True(File.Exists(path), $"README program {index} should have written {m.Groups[1].Value}");
        }
        CheckResults(state!);
    }

    // Program-specific claims of the README that the run must bear out.
    private static void CheckResults(ScriptState<object> state)
    {
        var variables = state.Variables.GroupBy(v => v.Name).ToDictionary(g => g.Key, g => g.Last().Value);
        if (variables.TryGetValue("after", out var after) && variables.TryGetValue("before", out var before))
            Assert.InRange((float)after!, (float)before! - 0.01f, 1f);   // static int8 loses at most a point
        if (variables.TryGetValue("report", out var report) && report is Condense.Training.TrainReport r)
            Assert.True(r.Epochs[^1].Validation!.Accuracy > 0.85f);
        if (variables.TryGetValue("sizes", out var sizes) && sizes is Condense.DeepCompression.CompressionSizes s)
            Assert.True(s.HuffmanRatio > 20, $"Huffman ratio {s.HuffmanRatio}");
    }

    private string Rewrite(string code)
    {
        code = EpochCount().Replace(code, "Epochs = 1");
        code = DefaultRecipe().Replace(code, "(TrainOptions.For($1) with { Epochs = 1 })");
        return ModelPath().Replace(code, m =>
        {
            string relative = m.Groups[1].Value;
            string target = Path.Combine(_dir, relative);
            string source = Path.Combine(RepoRoot(), relative);
            if (relative.Contains('/') && File.Exists(source) && !File.Exists(target))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(source, target);
            }
            return "@\"" + target + "\"";
        });
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Condense.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Condense.slnx) not found above the test binaries");
    }

    [GeneratedRegex(@"^#{1,3} ", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"Epochs = \d+")]
    private static partial Regex EpochCount();

    [GeneratedRegex(@"TrainOptions\.For\((\w+)\)")]
    private static partial Regex DefaultRecipe();

    [GeneratedRegex(@"""([\w./-]+\.(?:onnx|safetensors))""")]
    private static partial Regex ModelPath();
}
