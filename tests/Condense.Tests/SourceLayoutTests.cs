// The rules of docs/architecture.md that live in the source text rather than in the compiled types (ArchitectureTests
// checks those): a file's namespace is its folder, a kernel tile is named {Family}Kernel.{Isa}.cs as in MLAS with its
// contract in {Family}Kernel.cs, and the library's messages name no command-line flag (the CLI words its own hints).
using System.Text.RegularExpressions;
using Condense.Tests.Data;

namespace Condense.Tests;

public sealed partial class SourceLayoutTests
{
    private static IEnumerable<string> SourceFiles(string project) =>
        Directory.EnumerateFiles(Path.Combine(TestFiles.RepoRoot(), "src", project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));

    private static string Relative(string project, string file) =>
        Path.GetRelativePath(Path.Combine(TestFiles.RepoRoot(), "src", project), file).Replace('\\', '/');

    [Theory]
    [InlineData("Condense")]
    [InlineData("Condense.Cli")]
    public void NamespacesAreFolders(string project)
    {
        var wrong = new List<string>();
        int checkedFiles = 0;
        foreach (string file in SourceFiles(project))
        {
            string relative = Relative(project, file);
            string folder = Path.GetDirectoryName(relative)!.Replace('/', '.').Replace('\\', '.');
            string expected = folder.Length == 0 ? project : $"{project}.{folder}";
            var declared = FileNamespace().Match(File.ReadAllText(file));
            // Only the CLI's entry point (top-level statements) has no namespace.
            if (!declared.Success) { if (relative != "Program.cs") wrong.Add($"{relative}: no namespace"); continue; }
            checkedFiles++;
            if (declared.Groups[1].Value != expected) wrong.Add($"{relative}: {declared.Groups[1].Value}, not {expected}");
        }
        Assert.True(checkedFiles > 10, "the scan found the sources");
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    [Fact]
    public void KernelTilesAreNamedFamilyKernelIsa()
    {
        var wrong = new List<string>();
        var tiles = new List<string>();
        foreach (string file in SourceFiles("Condense").Where(f => Relative("Condense", f).StartsWith("Kernels/", StringComparison.Ordinal)))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            string text = File.ReadAllText(file);
            // A tile type: {Family}Kernel{Isa} of a family with a tile contract (I{Family}Kernel).
            foreach (Match m in TileType().Matches(text))
            {
                string family = m.Groups[1].Value, isa = m.Groups[2].Value;
                tiles.Add(m.Groups[0].Value);
                if (name != $"{family}Kernel.{isa}") wrong.Add($"{Relative("Condense", file)} holds {family}Kernel{isa}: its file is {family}Kernel.{isa}.cs");
            }
            foreach (Match m in TileContract().Matches(text))
                if (name != $"{m.Groups[1].Value}Kernel")
                    wrong.Add($"{Relative("Condense", file)} holds I{m.Groups[1].Value}Kernel: its file is {m.Groups[1].Value}Kernel.cs");
            // And the reverse: a {Family}Kernel.{Isa}.cs file holds that tile.
            var split = name.Split('.');
            if (split.Length == 2 && split[0] is "GemmKernel" or "QGemmKernel" or "ConvKernel" or "QConvKernel"
                && !Regex.IsMatch(text, $@"\b(struct|class) {split[0]}{split[1]}\b"))
                wrong.Add($"{Relative("Condense", file)} does not hold {split[0]}{split[1]}");
        }
        // The scan sees the tiles of all four tiled families, the emitted ones included.
        Assert.Contains("GemmKernelScalar", tiles.Select(t => t.Split(' ')[^1]));
        Assert.Contains(tiles, t => t.EndsWith("QGemmKernelJitZmm", StringComparison.Ordinal));
        Assert.Contains(tiles, t => t.EndsWith("ConvKernelAvx512Channels", StringComparison.Ordinal));
        Assert.Contains(tiles, t => t.EndsWith("QConvKernelJitZmm", StringComparison.Ordinal));
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    [Fact]
    public void LibraryMessagesNameNoCliFlag()
    {
        var found = new List<string>();
        int literals = 0;
        foreach (string file in SourceFiles("Condense"))
        {
            int number = 0;
            foreach (string line in File.ReadLines(file))
            {
                number++;
                if (line.TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
                foreach (Match m in StringLiteral().Matches(line))
                {
                    literals++;
                    if (CliFlag().IsMatch(m.Value)) found.Add($"{Relative("Condense", file)}:{number}: {m.Value}");
                }
            }
        }
        Assert.True(literals > 1000, "the scan found the library's string literals");
        Assert.True(found.Count == 0, string.Join("; ", found));
    }

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex FileNamespace();

    [GeneratedRegex(@"\b(?:struct|class) (Gemm|QGemm|Conv|QConv)Kernel([A-Z]\w*)")]
    private static partial Regex TileType();

    [GeneratedRegex(@"\binterface I(Gemm|QGemm|Conv|QConv)Kernel\b")]
    private static partial Regex TileContract();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""")]
    private static partial Regex StringLiteral();

    // "--flag" as the CLI spells its options (not a decrement, a Markdown rule "|---|" or a range "a -- b").
    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z0-9-]*")]
    private static partial Regex CliFlag();
}
