// The shape arithmetic exporters write (Shape → Gather → Unsqueeze → Concat → Reshape) is computed once per input
// shape: a second call with the same shapes reuses the very tensors of the first, a new batch size recomputes them,
// and the outputs always equal ONNX Runtime's (dynamic shapes keep working).
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Google.Protobuf;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Graph;

public sealed class ShapeFoldingTests
{
    // y = Reshape(x, [batch, -1]) * 2 where batch comes from Shape(x)[0]: the form PyTorch writes for x.view(x.size(0), -1).
    private static global::Onnx.ModelProto Model()
    {
        var model = Unbatched();
        model.Graph.Input[0].Type.TensorType.Shape.Dim[0] = new global::Onnx.TensorShapeProto.Types.Dimension { DimParam = "batch" };
        return model;
    }

    private static global::Onnx.ModelProto Unbatched() => TypedParity.Model(
        [
            Node("Shape", ["x"], "shape"), Node("Gather", ["shape", "zero"], "batch"), Node("Unsqueeze", ["batch", "axes"], "batch1"),
            Node("Concat", ["batch1", "minus1"], "target", Int("axis", 0)), Node("Reshape", ["x", "target"], "flat"),
            Node("Mul", ["flat", "two"], "y"),
        ],
        [("x", Tensor.Zeros(2, 3, 4))], [("y", DataType.Float32)], opset: 13,
        [Longs("zero", [0]), Longs("axes", [0], 1), Longs("minus1", [-1], 1), Floats("two", [2f])]);

    [Fact]
    public void ShapeArithmeticIsReusedWhileShapesRepeatAndRecomputedWhenTheyChange()
    {
        var proto = Model();
        string path = Save(proto, "shape-folding");
        try
        {
            var module = new GraphModule(OnnxImporter.Import(path));
            module.Eval();
            var first = module.Run(Tensor.Uniform(new Rng(1), -1f, 1f, 2, 3, 4));
            var second = module.Run(Tensor.Uniform(new Rng(2), -1f, 1f, 2, 3, 4));
            Assert.Same(first["target"], second["target"]);
            Assert.NotSame(first["flat"], second["flat"]);

            foreach (int batch in new[] { 5, 1, 2 })
            {
                var x = Tensor.Uniform(new Rng((ulong)batch), -1f, 1f, batch, 3, 4);
                var values = module.Run(x);
                Assert.Equal([batch, -1L], values["target"].Int64Data);
                var expected = TypedParity.RunOnnxRuntime(proto, [("x", x)])["y"];
                Assert.Null(OnnxConformanceTests.OutputMismatch("shape folding", "y", expected, values["y"]));
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TrainingThroughAFoldedReshapeStillGivesGradients()
    {
        string path = Save(Model(), "shape-folding-grad");
        try
        {
            var module = new GraphModule(OnnxImporter.Import(path));
            module.Train();
            for (int call = 0; call < 2; call++)
            {
                var x = Tensor.Uniform(new Rng(3), -1f, 1f, 2, 3, 4);
                x.RequiresGrad = true;
                module.Forward(x).Sum().Backward();
                Assert.All(x.Grad!.Data, g => Assert.Equal(2f, g));
            }
        }
        finally { File.Delete(path); }
    }
}
