// The op registry is the one list of operators: every entry runs or is rewritten on import, the OpTypes constants
// and the importer's QOperator rewrites agree with it, the exporter writes each op on a one-node graph as its entry
// says, and no op-type string literal of a registered op is left in src/ outside Graph/Ops and Graph/OpTypes.
// (That every op that runs matches ONNX Runtime and differentiates as registered is OnnxOpParityTests.)
using System.Reflection;
using System.Text.RegularExpressions;
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Data;

namespace Condense.Tests.Graph;

public sealed class OpRegistryTests
{
    // Literals of op names that are not a graph node's op type (none today: the tensor ops name themselves with nameof).
    // Names that are an ONNX op's by coincidence: Hugging Face's "Split" pre-tokenizer in a tokenizer.json.
    private static readonly (string File, string Op)[] Exceptions = [("PreTokenization.cs", "Split")];

    private static readonly Regex OpLiteral = new(
        $"(?<![=\\w])\"({string.Join("|", OpRegistry.All.Select(d => Regex.Escape(d.Name)))})\"", RegexOptions.Compiled);

    [Fact]
    public void EveryOpTypeConstantIsOneRegisteredOp()
    {
        var constants = typeof(OpTypes).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToList();
        foreach (var f in constants) Assert.Equal(f.Name, (string)f.GetRawConstantValue()!);
        Assert.Equal(constants.Select(f => f.Name).Order(StringComparer.Ordinal), OpRegistry.All.Select(d => d.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EveryOpRunsOrIsRewrittenOnImport()
    {
        foreach (var d in OpRegistry.All)
        {
            // An op runs as imported, or is rewritten/folded on import; the engine's own fused ops run and are never imported.
            Assert.True(d.Import == OpImport.EngineOnly ? d.Execute is not null && !OpRegistry.CanImport(d.Name)
                : d.Execute is not null ^ d.Import != OpImport.AsIs, d.Name);
            Assert.Equal(d.Import == OpImport.RewrittenToQdq, QOperatorImport.Rewrites(d.Name));
            Assert.Equal(d.Execute is not null, GraphOps.IsSupported(d.Name));
            Assert.True(d.Since is >= 1 and <= OnnxImporter.MaxOpset, d.Name);
        }
        Assert.False(OpRegistry.CanImport("NoSuchOp"));
        Assert.Null(OpRegistry.Find("NoSuchOp"));
    }

    public static TheoryData<string> OpNames() => [.. OpRegistry.All.Select(d => d.Name)];

    [Theory]
    [MemberData(nameof(OpNames))]
    public void TheExporterWritesTheOpAsItsEntrySays(string op)
    {
        var def = OpRegistry.Find(op)!;
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [2, 3]));
        graph.Initializers["s"] = new Tensor([3f, 2f], 2);
        graph.Nodes.Add(new Node("n", op, ["x", "s"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [2, 3]));
        if (def.Export == OpExport.None)
        {
            var e = Assert.Throws<CondenseException>(() => OnnxExporter.ToModel(graph));
            Assert.StartsWith($"cannot export op '{op}' in node 'n' to ONNX; supported: ", e.Message);
            return;
        }
        var node = Assert.Single(OnnxExporter.ToModel(graph).Graph.Node);
        switch (def.Export)
        {
            case OpExport.AsIs:
                Assert.Equal((op, ""), (node.OpType, node.Domain));
                Assert.DoesNotContain(node.Attribute, a => def.CondenseAttributes.Contains(a.Name));
                break;
            case OpExport.ContribDomain:
                Assert.Equal((op, QOperatorExport.MicrosoftDomain), (node.OpType, node.Domain));
                break;
            default:
                // Dropout writing a graph output becomes an Identity; Reshape keeps its type with an int64 shape.
                Assert.Equal(op == OpTypes.Dropout ? OpTypes.Identity : op, node.OpType);
                break;
        }
    }

    [Fact]
    public void TheExporterDropsCondenseOnlyAttributes()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [2, 3]));
        graph.Initializers["s"] = Tensor.Scalar(0.1f);
        var q = new Node("q", OpTypes.QuantizeLinear, ["x", "s"], ["y"]);
        q.Attributes["qmin"] = AttributeValue.Int(0);
        q.Attributes["qmax"] = AttributeValue.Int(15);
        q.Attributes["axis"] = AttributeValue.Int(1);
        graph.Nodes.Add(q);
        graph.Outputs.Add(new ValueInfo("y", [2, 3]));
        Assert.Equal(["axis"], OnnxExporter.ToModel(graph).Graph.Node[0].Attribute.Select(a => a.Name));
    }

    [Fact]
    public void NoOpTypeLiteralRemainsOutsideTheRegistry()
    {
        string root = TestFiles.RepoRoot();
        // The scan sees literals where they are allowed: the constants themselves.
        var constantFiles = Directory.GetFiles(Path.Combine(root, "src/Condense/Graph"), "OpTypes*.cs");
        Assert.Equal(OpRegistry.All.Count, constantFiles.Sum(f => OpLiteral.Matches(File.ReadAllText(f)).Count));
        var found = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.Contains("/obj/") || relative.Contains("/bin/")) continue;
            if (relative.Contains("/Graph/Ops/") || relative.Contains("/Graph/OpTypes")) continue;
            int number = 0;
            foreach (string line in File.ReadLines(file))
            {
                number++;
                if (line.TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
                foreach (Match m in OpLiteral.Matches(line))
                    if (!Exceptions.Contains((Path.GetFileName(file), m.Groups[1].Value))) found.Add($"{relative}:{number}: {m.Value}");
            }
        }
        Assert.Empty(found);
    }
}
