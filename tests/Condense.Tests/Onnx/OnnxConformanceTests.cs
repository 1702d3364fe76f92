// The ONNX project's own node tests (onnx/backend/test/data/node, as packaged by Debian's
// libonnx-testdata) for the ops Condense runs: each folder holds a one-node model.onnx and the
// TensorProto inputs and expected outputs. Tolerances follow ONNX's node tests (rtol 1e-3), with
// atol 1e-5 instead of 1e-7 because Condense computes in float32 what some references computed in double.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Onnx;

namespace Condense.Tests.Onnx;

public class OnnxConformanceTests
{
    private const double RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-5;

    private static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-node");

    public static TheoryData<string> NodeTests()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    [Fact]
    public void NodeTestsAreCopiedToTheOutput() => Assert.NotEmpty(NodeTests());

    [Theory]
    [MemberData(nameof(NodeTests))]
    public void NodeTestMatchesOnnxReference(string name)
    {
        string dir = Path.Combine(Root, name);
        var module = new GraphModule(OnnxImporter.Import(Path.Combine(dir, "model.onnx")));
        module.Eval(); // node tests are inference: Dropout without training_mode is the identity
        var graph = module.Graph;
        var inputs = new Dictionary<string, Tensor>();
        for (int i = 0; i < graph.Inputs.Count; i++) inputs[graph.Inputs[i].Name] = Read(dir, $"input_{i}.pb");

        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = module.Run(inputs);

        for (int i = 0; i < graph.Outputs.Count; i++)
        {
            var expected = Read(dir, $"output_{i}.pb");
            var actual = values[graph.Outputs[i].Name];
            Assert.Equal(expected.Shape, actual.Shape);
            for (int j = 0; j < expected.Size; j++)
            {
                double e = expected.Data[j], a = actual.Data[j];
                if (double.IsNaN(e) && double.IsNaN(a)) continue;
                Assert.True(Math.Abs(a - e) <= AbsoluteTolerance + RelativeTolerance * Math.Abs(e),
                    $"{name}: output '{graph.Outputs[i].Name}'[{j}] is {a}, expected {e}");
            }
        }
    }

    private static Tensor Read(string dir, string file)
    {
        string path = Path.Combine(dir, "test_data_set_0", file);
        return OnnxTensors.Read(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), path).Tensor;
    }
}

public class MultiInputGraphTests
{
    [Fact]
    public void RunFeedsInputsByNameAndForwardRefusesAMultiInputGraph()
    {
        var graph = new Condense.Graph.ModelGraph();
        graph.Inputs.Add(new Condense.Graph.ValueInfo("a", [-1, 3]));
        graph.Inputs.Add(new Condense.Graph.ValueInfo("b", [-1, 3]));
        graph.Nodes.Add(new Condense.Graph.Node("add", "Add", ["a", "b"], ["sum"]));
        graph.Outputs.Add(new Condense.Graph.ValueInfo("sum", [-1, 3]));
        var model = new Condense.Graph.GraphModule(graph);
        var a = new Condense.Tensors.Tensor([1f, 2f, 3f], 1, 3);
        var b = new Condense.Tensors.Tensor([10f, 20f, 30f], 1, 3);
        Assert.Equal([11f, 22f, 33f], model.Run(new Dictionary<string, Condense.Tensors.Tensor> { ["a"] = a, ["b"] = b })["sum"].Data);
        var e = Assert.Throws<CondenseException>(() => model.Forward(a));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<CondenseException>(() => model.Run(new Dictionary<string, Condense.Tensors.Tensor> { ["a"] = a }));
    }
}
