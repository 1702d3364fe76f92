// A residual CNN as PyTorch exports it (opset 13), with F.pad both folded (Pad reading an int64 initializer and a
// constant value) and unfolded (PyTorch 1.x's pads subgraph: ConstantOfShape, Concat, Reshape, a Slice with step −1,
// Transpose, Reshape, Cast), imports, is written back, and the written file runs in ONNX Runtime with the original's
// outputs (issue 13 item 4: before, export stopped at "cannot export op 'Pad'").
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class PadResidualRoundTripTests
{
    private static TensorProto Weights(string name, ulong seed, params long[] dims)
    {
        var rng = new Rng(seed);
        int n = (int)dims.Aggregate(1L, (a, b) => a * b);
        return Floats(name, [.. Enumerable.Range(0, n).Select(_ => rng.NextFloat() - 0.5f)], dims);
    }

    private static NodeProto Constant(string name, TensorProto value) => Node("Constant", [], name, TensorValue("value", value));

    private static ModelProto ResidualCnn()
    {
        var nodes = new List<NodeProto>
        {
            // Folded: pads as an initializer, the value as a Constant.
            Constant("zero", Floats("zero", [0f])),
            Node("Pad", ["input", "pads", "zero"], "padded"),
            Node("Conv", ["padded", "w1", "b1"], "c1", Ints("kernel_shape", 3, 3)),
            Node("Relu", ["c1"], "r1"),
            // Unfolded: the pads [1, 1, 1, 1] of F.pad made ONNX's [begin…, end…] by PyTorch 1.x's subgraph.
            Constant("pad_list", Longs("pad_list", [1, 1, 1, 1], 4)),
            Constant("extension", Longs("extension", [4], 1)),
            Node("ConstantOfShape", ["extension"], "zeros", TensorValue("value", Longs("v", [0], 1))),
            Node("Concat", ["pad_list", "zeros"], "all_pads", Int("axis", 0)),
            Constant("pairs", Longs("pairs", [-1, 2], 2)),
            Node("Reshape", ["all_pads", "pairs"], "paired"),
            Constant("s", Longs("s", [-1], 1)), Constant("e", Longs("e", [-long.MaxValue], 1)),
            Constant("a", Longs("a", [0], 1)), Constant("st", Longs("st", [-1], 1)),
            Node("Slice", ["paired", "s", "e", "a", "st"], "flipped"),
            Node("Transpose", ["flipped"], "columns", Ints("perm", 1, 0)),
            Constant("flat", Longs("flat", [-1], 1)),
            Node("Reshape", ["columns", "flat"], "onnx_pads"),
            Node("Cast", ["onnx_pads"], "pads2", Int("to", 7)),
            Node("Pad", ["r1", "pads2"], "padded2", new AttributeProto
            {
                Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("reflect"),
            }),
            Node("Conv", ["padded2", "w2", "b2"], "c2", Ints("kernel_shape", 3, 3)),
            Node("Add", ["c2", "padded_skip"], "sum"),
            Node("Relu", ["sum"], "r2"),
            Node("GlobalAveragePool", ["r2"], "pooled"),
            Node("Flatten", ["pooled"], "features"),
            Node("Gemm", ["features", "w3", "b3"], "logits", Int("transB", 1)),
        };
        // The skip connection: the input's channels widened by a 1×1 convolution.
        nodes.Insert(4, Node("Conv", ["input", "ws", "bs"], "padded_skip", Ints("kernel_shape", 1, 1)));
        var initializers = new[]
        {
            Longs("pads", [0, 0, 1, 1, 0, 0, 1, 1], 8), Weights("w1", 1, 4, 3, 3, 3), Weights("b1", 2, 4), Weights("w2", 3, 4, 4, 3, 3),
            Weights("b2", 4, 4), Weights("ws", 5, 4, 3, 1, 1), Weights("bs", 6, 4), Weights("w3", 7, 5, 4), Weights("b3", 8, 5),
        };
        return Model(nodes, Value("input", -1, 3, 6, 6), Value("logits", -1, 5), initializers, opset: 13);
    }

    [Fact]
    public void ResidualCnnWithPadIsWrittenBackAndRunsInOnnxRuntime()
    {
        var original = ResidualCnn();
        var x = Tensor.Uniform(new Rng(9), -1f, 1f, 2, 3, 6, 6);
        var expected = TypedParity.RunOnnxRuntime(original, [("input", x)])["logits"];

        string path = Save(original, "pad-residual");
        string again = Path.ChangeExtension(path, ".again.onnx");
        try
        {
            var graph = OnnxImporter.Import(path);
            OnnxExporter.Export(graph, again);
            var written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(again));
            Assert.Contains(written.Graph.Node, n => n.OpType == "Pad");
            Assert.Null(OnnxConformanceTests.OutputMismatch("ONNX Runtime on the export", "logits", expected,
                TypedParity.RunOnnxRuntime(written, [("input", x)])["logits"]));
            var module = new GraphModule(OnnxImporter.Import(again));
            module.Eval();
            using (GradMode.NoGrad())
                Assert.Null(OnnxConformanceTests.OutputMismatch("import of the export", "logits", expected, module.Run(x)["logits"]));
        }
        finally
        {
            File.Delete(path);
            File.Delete(again);
        }
    }
}
