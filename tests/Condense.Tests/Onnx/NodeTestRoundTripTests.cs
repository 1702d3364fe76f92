// Every ONNX node test whose ops all export as they are survives a round trip: import → export → ONNX Runtime runs
// the written file and gives the test's expected outputs, and import of the written file gives them too. This is the
// export half of "every op that imports also exports", checked on the ONNX project's own cases.
using Condense.Autograd;
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Onnx;
using Condense.Tensors;
using Google.Protobuf;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class NodeTestRoundTripTests
{
    // The ops the exporter writes unchanged (Cast and the shape ops included).
    private static readonly HashSet<string> Family = OpRegistry.All.Where(d => d.Export == OpExport.AsIs).Select(d => d.Name).ToHashSet();

    private static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-node");

    public static TheoryData<string> FamilyNodeTests()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            if (OnnxConformanceTests.KnowinglySkipped.ContainsKey(name)) continue;
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
            var ops = model.Graph.Node.Select(n => n.OpType).Where(op => op != OpTypes.Constant).ToList();
            if (ops.Count > 0 && ops.All(Family.Contains)) data.Add(name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FamilyNodeTests))]
    public void NodeTestRoundTripsThroughExport(string name)
    {
        string dir = Path.Combine(Root, name);
        var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"));
        var inputs = graph.Inputs.Select((v, i) => (v.Name, Read(dir, $"input_{i}.pb"))).ToArray();
        var expected = graph.Outputs.Select((v, i) => (v.Name, Read(dir, $"output_{i}.pb"))).ToArray();

        var exported = OnnxExporter.ToModel(graph);
        // ONNX Runtime has no kernel for a few type combinations the ONNX tests cover (Max/Min of int16, BitShift of
        // uint16, Pow with an unsigned exponent): then the import of the written file is the check.
        Dictionary<string, Tensor>? ort = null;
        try { ort = TypedParity.RunOnnxRuntime(exported, inputs); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) when (e.Message.Contains("[ErrorCode:NotImplemented]", StringComparison.Ordinal)) { }
        foreach (var (output, value) in expected)
            if (ort is not null)
                Assert.Null(OnnxConformanceTests.OutputMismatch(name + " (ONNX Runtime on the export)", output, value, ort[output]));

        string path = OnnxTestModels.Save(exported, "node-round-trip");
        try
        {
            var module = new GraphModule(OnnxImporter.Import(path));
            module.Eval();
            Dictionary<string, Tensor> actual;
            using (GradMode.NoGrad()) actual = module.Run(inputs.ToDictionary(i => i.Name, i => i.Item2));
            foreach (var (output, value) in expected)
                Assert.Null(OnnxConformanceTests.OutputMismatch(name + " (import of the export)", output, value, actual[output]));
        }
        finally { File.Delete(path); }
    }

    private static Tensor Read(string dir, string file)
    {
        string path = Path.Combine(dir, "test_data_set_0", file);
        return OnnxTensors.ReadTyped(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), path);
    }
}
