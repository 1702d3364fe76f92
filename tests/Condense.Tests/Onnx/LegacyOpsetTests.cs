// Opsets 1–6 (Graph/Ops/OpsetUpgrades.cs): the ONNX project's opset-6 PyTorch backend tests run against their expected
// outputs, and the ops whose meaning changed before opset 7 are either adapted (checked against a hand computation)
// or refused in one line naming the op.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public class LegacyOpsetTests
{
    private static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-pytorch");

    private static IEnumerable<string> Names() =>
        from suite in Directory.GetDirectories(Root).Order(StringComparer.Ordinal)
        from dir in Directory.GetDirectories(suite).Order(StringComparer.Ordinal)
        select $"{Path.GetFileName(suite)}/{Path.GetFileName(dir)}";

    public static TheoryData<string> PytorchTests() => [.. Names()];

    [Fact]
    public void PytorchTestsAreCopiedAndAreOpsetSix()
    {
        var tests = Names().ToList();
        Assert.Equal(73, tests.Count);
        foreach (var test in tests)
        {
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(Root, test, "model.onnx")));
            Assert.Contains(model.OpsetImport, o => o.Domain == "" && o.Version == 6);
        }
    }

    [Theory]
    [MemberData(nameof(PytorchTests))]
    public void PytorchTestMatchesOnnxReference(string name)
    {
        string dir = Path.Combine(Root, name);
        var module = new GraphModule(OnnxImporter.Import(Path.Combine(dir, "model.onnx")));
        module.Eval();
        var inputs = new Dictionary<string, Tensor>();
        for (int i = 0; i < module.Graph.Inputs.Count; i++) inputs[module.Graph.Inputs[i].Name] = Read(dir, $"input_{i}.pb");
        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = module.Run(inputs);
        for (int i = 0; i < module.Graph.Outputs.Count; i++)
        {
            var expected = Read(dir, $"output_{i}.pb");
            var actual = values[module.Graph.Outputs[i].Name];
            Assert.Equal(expected.Shape, actual.Shape);
            for (int j = 0; j < expected.Size; j++)
            {
                double e = expected.Data[j], a = actual.Data[j];
                // The references were computed in double; some overflow float32 to ±infinity, and NaN (sqrt of a negative) matches NaN.
                bool close = a == e || (double.IsNaN(a) && double.IsNaN(e)) || Math.Abs(a - e) <= 1e-5 + 1e-3 * Math.Abs(e);
                Assert.True(close, $"{name}: output {i}[{j}] is {a}, expected {e}");
            }
        }
    }

    [Fact]
    public void LegacyBroadcastAlongAnAxisAlignsBThereAndIsNotExported()
    {
        // Add(A [2, 3, 4], B [3], broadcast = 1, axis = 1): B[j] is added to A[i, j, k] (numpy would align B with the last axis).
        var b = Floats("b", [10f, 20f, 30f], 3);
        var model = Model([Node("Add", ["x", "b"], "y", Int("broadcast", 1), Int("axis", 1))], Value("x", 2, 3, 4), Value("y", 2, 3, 4), [b], opset: 6);
        string path = Save(model, "legacy-add");
        try
        {
            var module = OnnxImporter.Load(path);
            var x = Tensor.Uniform(new Rng(3), -1f, 1f, 2, 3, 4);
            var y = module.Forward(x);
            for (int i = 0; i < x.Size; i++) Assert.Equal(x.Data[i] + 10f * (1 + i / 4 % 3), y.Data[i]);
            var e = Assert.Throws<CondenseException>(() => OnnxExporter.ToBytes(module.Graph));
            Assert.Contains("opset 1–6", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReshapeCastAndConcatOfEarlyOpsetsAreAdapted()
    {
        var shape = new AttributeProto { Name = "shape", Type = AttributeProto.Types.AttributeType.Ints };
        shape.Ints.AddRange([2L, 6L]);
        var to = new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("INT32") };
        var nodes = new[] { Node("Reshape", ["x"], "r", shape), Node("Cast", ["r"], "c", to), Node("Concat", ["c", "c"], "y") };
        var model = Model(nodes, Value("x", 3, 4), Value("y", 2, 12), opset: 3);
        string path = Save(model, "legacy-reshape");
        try
        {
            var x = new Tensor(Enumerable.Range(0, 12).Select(i => i - 5.5f).ToArray(), 3, 4);
            var y = OnnxImporter.Load(path).Forward(x);
            Assert.Equal([2, 12], y.Shape);   // Concat's opset-1 default axis is 1
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 12; c++) Assert.Equal(MathF.Truncate(x.Data[r * 6 + c % 6]), y.Data[r * 12 + c]);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("BatchNormalization", "batch's own statistics")]
    [InlineData("QuantizeLinear", "arrived in opset 10")]
    public void OpsWhoseMeaningDifferedAreRefusedByName(string op, string why)
    {
        var inputs = op == "BatchNormalization" ? new[] { "x", "s", "b", "m", "v" } : ["x", "s"];
        var initializers = inputs.Skip(1).Select(n => Floats(n, [1f, 1f], 2));
        var model = Model([Node(op, inputs, "y")], Value("x", 1, 2), Value("y", 1, 2), initializers, opset: 6);
        string path = Save(model, "legacy-refused");
        try
        {
            var e = Assert.ThrowsAny<CondenseException>(() => OnnxImporter.Import(path));
            Assert.DoesNotContain('\n', e.Message);
            Assert.Contains($"op '{op}' at opset 6", e.Message);
            Assert.Contains(why, e.Message);
        }
        finally { File.Delete(path); }
    }

    private static Tensor Read(string dir, string file)
    {
        string path = Path.Combine(dir, "test_data_set_0", file);
        return OnnxTensors.Read(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), path).Tensor;
    }
}
