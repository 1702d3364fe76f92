// 3-D Conv, MaxPool and AveragePool and dilated AveragePool beyond the ONNX Runtime parity cases: gradients against
// finite differences (they are built from autograd ops and the N-D pooling kernels, so they train), small-integer
// 3-D MaxPool against ONNX Runtime, import → export → ONNX Runtime round trips, and the one-line refusals.
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Autograd;
using Onnx;
using Models = Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class Conv3dPoolTests
{
    private static Condense.Graph.Node GraphNode(string op, params (string Name, AttributeValue Value)[] attributes) =>
        new("n", op, ["x", "w", "b"], ["y"], attributes.ToDictionary(a => a.Name, a => a.Value));

    private static (string, AttributeValue) Ints(string name, params long[] values) => (name, AttributeValue.Ints(values));

    // Distinct values 0.05 apart in a seeded order, so a ±0.01 step never changes a max window's argmax.
    private static Tensor Spaced(int seed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var order = Enumerable.Range(0, t.Size).ToArray();
        new Random(seed).Shuffle(order);
        for (int i = 0; i < t.Size; i++) t.Data[i] = (order[i] - t.Size / 2) * 0.05f;
        return t;
    }

    [Fact]
    public void Conv3dGradients()
    {
        var node = GraphNode("Conv", ("group", AttributeValue.Int(2)), Ints("strides", 2, 1, 2), Ints("pads", 1, 0, 1, 2, 1, 0),
            Ints("dilations", 1, 2, 1));
        GradCheck.Check(t => GraphOps.Conv(node, t), [GradCheck.Random(1, 2, 4, 4, 5, 4), GradCheck.Random(2, 4, 2, 2, 2, 2), GradCheck.Random(3, 4)]);
    }

    [Fact]
    public void Conv3dGradientsWithoutBiasAndWithAutoPad()
    {
        var node = GraphNode("Conv", ("auto_pad", AttributeValue.String("SAME_UPPER")), Ints("strides", 2, 1, 1));
        GradCheck.Check(t => GraphOps.Conv(node, [t[0], t[1], null]), [GradCheck.Random(4, 1, 2, 5, 3, 4), GradCheck.Random(5, 3, 2, 3, 2, 2)]);
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(true, 1)]
    public void Pool3dGradients(bool ceil, int countIncludePad)
    {
        var attributes = new[]
        {
            Ints("kernel_shape", 2, 3, 2), Ints("strides", 2, 1, 2), Ints("pads", 1, 1, 0, 0, 1, 1),
            ("ceil_mode", AttributeValue.Int(ceil ? 1 : 0)), ("count_include_pad", AttributeValue.Int(countIncludePad)),
        };
        var max = GraphNode("MaxPool", [.. attributes, Ints("dilations", 1, 1, 2)]);
        GradCheck.Check(t => GraphOps.MaxPool(max, t)[0], [Spaced(1, 2, 2, 5, 4, 6)]);
        var average = GraphNode("AveragePool", attributes);
        GradCheck.Check(t => GraphOps.AveragePool(average, t), [GradCheck.Random(2, 2, 2, 5, 4, 6)]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void DilatedAveragePoolGradients(int countIncludePad)
    {
        var node = GraphNode("AveragePool", Ints("kernel_shape", 3, 2), Ints("strides", 2, 1), Ints("dilations", 2, 3), Ints("pads", 1, 0, 2, 1),
            ("ceil_mode", AttributeValue.Int(1)), ("count_include_pad", AttributeValue.Int(countIncludePad)));
        GradCheck.Check(t => GraphOps.AveragePool(node, t), [GradCheck.Random(3, 2, 2, 7, 8)]);
    }

    [Theory]
    [InlineData(DataType.UInt8)]
    [InlineData(DataType.Int8)]
    public void SmallIntegerMaxPool3dMatchesOnnxRuntime(DataType type)
    {
        var x = TypedParity.Random(type, [1, 2, 4, 5, 6], 7);
        var node = Models.Node("MaxPool", ["x"], "y", Models.Ints("kernel_shape", 2, 2, 3), Models.Ints("strides", 2, 1, 2),
            Models.Ints("pads", 0, 1, 1, 1, 0, 1));
        Assert.Null(TypedParity.Mismatch([node], [("x", x)], [("y", type)], opset: 12));
    }

    private static Tensor Floats(int[] shape, ulong seed) => TypedParity.Random(DataType.Float32, shape, seed);

    public static TheoryData<string> RoundTripCases() => ["conv", "maxpool", "averagepool", "dilated averagepool"];

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void RoundTripsThroughExport(string which)
    {
        var (nodes, inputs, opset) = which switch
        {
            "conv" => (new[] { Models.Node("Conv", ["x", "w"], "y", Models.Ints("strides", 1, 2, 1), Models.Ints("pads", 1, 0, 1, 0, 1, 1)) },
                new[] { ("x", Floats([1, 2, 4, 5, 4], 1)), ("w", Floats([3, 2, 2, 2, 3], 2)) }, 13L),
            "maxpool" => ([Models.Node("MaxPool", ["x"], "y", Models.Ints("kernel_shape", 2, 2, 2), Models.Int("ceil_mode", 1))],
                [("x", Floats([1, 2, 5, 5, 4], 3))], 13L),
            "averagepool" => ([Models.Node("AveragePool", ["x"], "y", Models.Ints("kernel_shape", 3, 2, 2), Models.Ints("pads", 1, 1, 0, 1, 0, 1),
                Models.Int("count_include_pad", 1))], [("x", Floats([1, 2, 5, 5, 4], 4))], 13L),
            _ => ([Models.Node("AveragePool", ["x"], "y", Models.Ints("kernel_shape", 2, 2), Models.Ints("dilations", 2, 3))],
                [("x", Floats([1, 2, 6, 7], 5))], 19L),
        };
        var model = TypedParity.Model(nodes, inputs, [("y", DataType.Float32)], opset);
        string path = Models.Save(model, "conv3d-round-trip");
        try
        {
            var graph = OnnxImporter.Import(path);
            var expected = TypedParity.RunOnnxRuntime(model, inputs)["y"];
            var exported = OnnxExporter.ToModel(graph);
            Assert.Null(OnnxConformanceTests.OutputMismatch(which, "y", expected, TypedParity.RunOnnxRuntime(exported, inputs)["y"]));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void RefusesWhatItCannotDo()
    {
        var x = GradCheck.Random(1, 1, 2, 6, 6);
        var same = GraphNode("AveragePool", Ints("kernel_shape", 2, 2), Ints("dilations", 2, 2), ("auto_pad", AttributeValue.String("SAME_UPPER")));
        Assert.Contains("auto_pad SAME_UPPER with dilations", Assert.Throws<CondenseException>(() => GraphOps.AveragePool(same, [x])).Message);
        var fourD = GraphNode("MaxPool", Ints("kernel_shape", 1, 1, 1, 1));
        Assert.Contains("only 1-D, 2-D and 3-D pooling",
            Assert.Throws<CondenseException>(() => GraphOps.MaxPool(fourD, [GradCheck.Random(2, 1, 1, 2, 2, 2, 2)])).Message);
        var conv = GraphNode("Conv");
        Assert.Contains("only 1-D, 2-D and 3-D convolutions",
            Assert.Throws<CondenseException>(() => GraphOps.Conv(conv, [GradCheck.Random(3, 1, 1, 2, 2, 2, 2), GradCheck.Random(4, 1, 1, 1, 1, 1, 1), null]))
            .Message);
        var kernel = GraphNode("Conv", Ints("kernel_shape", 2, 2, 2));
        Assert.Contains("does not match the weight",
            Assert.Throws<CondenseException>(() => GraphOps.Conv(kernel, [GradCheck.Random(5, 1, 1, 3, 3, 3), GradCheck.Random(6, 1, 1, 1, 2, 2), null]))
            .Message);
    }
}
