// The README's operator list is the registry's: every op the importer reads is named there, and nothing else, with
// the count. A new op that lands without its README line, or a README that promises an op, fails here.
using System.Text.RegularExpressions;
using Condense.Graph.Ops;

namespace Condense.Tests.Onnx;

public partial class ReadmeOperatorListTests
{
    [Fact]
    public void ReadmeListsExactlyTheOperatorsTheImporterReads()
    {
        string readme = File.ReadAllText(Path.Combine(Condense.Tests.Data.TestFiles.RepoRoot(), "README.md"));
        var match = OperatorList().Match(readme);
        Assert.True(match.Success, "README: no line 'Operators of the default ONNX domain (N): A, B, ….'");
        var listed = match.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(op => op.Trim('`')).ToHashSet();
        var registered = OpRegistry.All.Where(d => OpRegistry.CanImport(d.Name) && d.Export != OpExport.ContribDomain)
            .Select(d => d.Name).ToHashSet();
        Assert.Empty(registered.Except(listed).Order());
        Assert.Empty(listed.Except(registered).Order());
        Assert.Equal(registered.Count, int.Parse(match.Groups[1].Value));
    }

    [GeneratedRegex(@"Operators of the default ONNX domain \((\d+)\): ([^.]+)\.")]
    private static partial Regex OperatorList();
}
