// The normalization family for the other float types: float16, bfloat16 and float64 against ONNX Runtime where it
// registers a kernel for the type, and against Condense's float32 autograd form everywhere (the double kernels must
// compute the same function); and every normalization node test survives import → export → ONNX Runtime → import.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public partial class NormOpTests
{
    private static readonly DataType[] OtherFloats = [DataType.Float16, DataType.BFloat16, DataType.Float64];

    // One graph per op: its node, its inputs' shapes (the first is X; the rest are Scale and B) and the opset.
    private static (NodeProto Node, int[][] Shapes, long Opset) Graph(string op) => op switch
    {
        OpTypes.LayerNormalization => (Nodes(op, ["x", "s", "b"], ["y", "m", "d"], Int("axis", -2)), [[2, 3, 4], [3, 4], [4]], 17),
        OpTypes.MeanVarianceNormalization => (Node(op, ["x"], "y", Ints("axes", 0, 2)), [[2, 3, 4, 5]], 13),
        OpTypes.InstanceNormalization => (Node(op, ["x", "s", "b"], "y"), [[2, 3, 4], [3], [3]], 13),
        _ => (Node(op, ["x"], "y", Int("size", 3), FloatAttr("alpha", 0.3f)), [[2, 5, 3, 3]], 13),
    };

    private static (string, Tensor)[] Inputs(string op, DataType type) =>
        [.. Graph(op).Shapes.Select((s, i) => ("xsb"[i].ToString(), TypedParity.Random(type, s, (ulong)(i + 5))))];

    // The outputs and their types: LayerNormalization's Mean and InvStdDev are float32 (stash_type 1) for every T.
    private static (string, DataType)[] Outputs(string op, DataType type) => op == OpTypes.LayerNormalization
        ? [("y", type), ("m", DataType.Float32), ("d", DataType.Float32)]
        : [("y", type)];

    public static TheoryData<string, DataType> OnnxRuntimeTypedCases() => new()
    {
        { OpTypes.LayerNormalization, DataType.Float16 }, { OpTypes.LayerNormalization, DataType.Float64 },
        { OpTypes.InstanceNormalization, DataType.Float16 },
    };

    [Theory]
    [MemberData(nameof(OnnxRuntimeTypedCases))]
    public void TypedMatchesOnnxRuntime(string op, DataType type)
    {
        var (node, _, opset) = Graph(op);
        Assert.Null(TypedParity.Mismatch([node], Inputs(op, type), Outputs(op, type), opset));
    }

    public static TheoryData<string, DataType> TypedCases()
    {
        var data = new TheoryData<string, DataType>();
        foreach (var op in new[] { OpTypes.LayerNormalization, OpTypes.MeanVarianceNormalization, OpTypes.InstanceNormalization, OpTypes.LRN })
            foreach (var type in OtherFloats)
                if (!(op == OpTypes.InstanceNormalization && type == DataType.BFloat16)) data.Add(op, type);
        return data;
    }

    [Theory]
    [MemberData(nameof(TypedCases))]
    public void TypedMatchesTheFloat32Form(string op, DataType type)
    {
        var typed = Inputs(op, type);
        var typedOutputs = Run(op, typed, type);
        var floatOutputs = Run(op, [.. typed.Select(i => (i.Item1, TypedOps.Cast(i.Item2, DataType.Float32)))], DataType.Float32);
        // The float32 form's result rounded to the type, within one unit in its last place (float64: float32's precision).
        double relative = type switch { DataType.Float16 => 1e-3, DataType.BFloat16 => 8e-3, _ => 1e-5 };
        foreach (var (name, outputType) in Outputs(op, type))
        {
            var actual = typedOutputs[name];
            Assert.Equal(outputType, actual.DataType);
            Assert.Equal(floatOutputs[name].Shape, actual.Shape);
            for (int i = 0; i < actual.Size; i++)
            {
                double e = floatOutputs[name].GetDouble(i), a = actual.GetDouble(i);
                Assert.True(Math.Abs(a - e) <= 1e-5 + relative * Math.Abs(e), $"{op} {type} {name}[{i}]: {a}, float32 form {e}");
            }
        }
    }

    // Condense's outputs of the one-node graph, imported from the ONNX model TypedParity writes.
    private static Dictionary<string, Tensor> Run(string op, (string Name, Tensor Value)[] inputs, DataType type)
    {
        var (node, _, opset) = Graph(op);
        string path = Save(TypedParity.Model([node], inputs, Outputs(op, type), opset), "norm-typed");
        try
        {
            var module = new GraphModule(OnnxImporter.Import(path));
            module.Eval();
            using (GradMode.NoGrad()) return module.Run(inputs.ToDictionary(i => i.Name, i => i.Value));
        }
        finally { File.Delete(path); }
    }

    private static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-node");

    public static TheoryData<string> NormNodeTests()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            // The _expanded variants are graphs of other ops (ReduceMean, Shape, …), not this family's.
            if (name.EndsWith("_expanded", StringComparison.Ordinal)) continue;
            if (new[] { "test_layer_normalization_", "test_mvn", "test_instancenorm_", "test_lrn" }.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
                data.Add(name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(NormNodeTests))]
    public void NodeTestRoundTripsThroughExport(string name)
    {
        string dir = Path.Combine(Root, name);
        var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"));
        var inputs = graph.Inputs.Select((v, i) => (v.Name, Read(dir, $"input_{i}.pb"))).ToArray();
        var expected = graph.Outputs.Select((v, i) => (v.Name, Read(dir, $"output_{i}.pb"))).ToArray();

        var exported = OnnxExporter.ToModel(graph);
        if (graph.Nodes.Any(n => n.OpType == OpTypes.LayerNormalization)) Assert.Equal(17, exported.OpsetImport.Single(o => o.Domain == "").Version);
        var ort = TypedParity.RunOnnxRuntime(exported, inputs);
        foreach (var (output, value) in expected)
            Assert.Null(OnnxConformanceTests.OutputMismatch(name + " (ONNX Runtime on the export)", output, value, ort[output]));

        string path = Save(exported, "norm-round-trip");
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
