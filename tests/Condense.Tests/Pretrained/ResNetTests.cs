// ResNet-18 as ML.NET ships it (a CNTK export at opset 8, declared for one 224×224 image) with its preprocessing graph:
// composed into one graph, it computes what the two compute in sequence, in Condense and, exported, in ONNX Runtime;
// a preprocessing graph built here (opset 13) raises ResNet-18's nodes to opset 13's forms; and the model, which does
// not depend on its declared batch of 1, runs batches once made dynamic, in Condense and in ONNX Runtime.
using Condense.Autograd;
using Condense.Formats;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Pretrained;

public sealed class ResNetTests
{
    private const string Pixels = "OriginalInput", Prepared = "PreprocessedInput", Image = "Input247", Features = "Pooling395_Output_0";

    private static ModelProto Proto(string path) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));

    private static Tensor Run(GraphModule model, string input, Tensor value, string output)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        return model.Run(new Dictionary<string, Tensor> { [input] = value })[output];
    }

    private static Tensor Ort(ModelProto model, string input, Tensor value, string output) =>
        TypedParity.RunOnnxRuntime(model, [(input, value)])[output];

    // Equal shapes, and values within 1e-4 of the expected output's largest magnitude.
    private static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double largest = expected.Data.Max(v => Math.Abs((double)v));
        double difference = expected.Data.Zip(actual.Data, (e, a) => Math.Abs((double)e - a)).Max();
        Assert.True(difference <= 1e-4 * largest, $"differs by {difference:G3}, largest magnitude {largest:G3}");
    }

    // Sample i of a batch, as a batch of one.
    private static Tensor Sample(Tensor batch, int i)
    {
        int size = batch.Size / batch.Shape[0];
        return new Tensor(batch.Data.AsSpan(i * size, size).ToArray(), [1, .. batch.Shape[1..]]);
    }

    [Fact]
    public void PreprocessingThenResNetIsOneGraphThatRunsAsTheTwoInSequence()
    {
        var pre = ModelFile.Load(PretrainedModels.ResNetPreprocessOnnx);
        var model = ModelFile.Load(PretrainedModels.ResNet18Onnx);

        var composed = GraphComposition.Compose(pre.Graph, model.Graph);

        Assert.Equal(8, composed.Opset);
        Assert.Equal([Pixels], composed.Inputs.Select(i => i.Name));
        Assert.Equal([Features], composed.Outputs.Select(o => o.Name));
        Assert.Equal(pre.Graph.Nodes.Count + model.Graph.Nodes.Count, composed.Nodes.Count);
        Assert.Equal(model.Graph.Nodes.Select(n => n.Name), composed.Nodes.Skip(pre.Graph.Nodes.Count).Select(n => n.Name));
        Assert.All(model.Graph.Initializers.Keys, name => Assert.True(composed.Initializers.ContainsKey(name), name));
        Assert.True(composed.Trainable.IsSupersetOf(model.Graph.Trainable));
        var pixels = Tensor.Uniform(new Rng(7), 0f, 255f, 1, 3, 224, 224);
        AssertClose(Run(model, Image, Run(pre, Pixels, pixels, Prepared), Features), Run(new GraphModule(composed), Pixels, pixels, Features));

        var prepared = Ort(Proto(PretrainedModels.ResNetPreprocessOnnx), Pixels, pixels, Prepared);
        var inSequence = Ort(Proto(PretrainedModels.ResNet18Onnx), Image, prepared, Features);
        AssertClose(inSequence, Ort(OnnxExporter.ToModel(composed), Pixels, pixels, Features));
    }

    [Fact]
    public void APreprocessingGraphBuiltHereWritesResNetAtOpset13()
    {
        // x − mean per channel, built here: no opset, so opset 13, where BatchNormalization has no 'spatial' attribute.
        var center = new ModelGraph();
        center.Inputs.Add(new ValueInfo("rgb", [1, 3, 224, 224]));
        center.Nodes.Add(new Node("center", OpTypes.Sub, ["rgb", "mean"], ["centered"]));
        center.Initializers.Add("mean", new Tensor([120f, 115f, 100f], 1, 3, 1, 1));
        center.Outputs.Add(new ValueInfo("centered", [1, 3, 224, 224]));
        var model = ModelFile.Load(PretrainedModels.ResNet18Onnx);

        var composed = GraphComposition.Compose(center, model.Graph);
        var file = OnnxExporter.ToModel(composed);

        Assert.Equal(OnnxExporter.Opset, file.OpsetImport.Single().Version);
        Assert.DoesNotContain(file.Graph.Node.SelectMany(n => n.Attribute), a => a.Name == "spatial");
        Assert.Contains(model.Graph.Nodes, n => n.Attributes.ContainsKey("spatial"));   // the loaded model is left as it was
        var rgb = Tensor.Uniform(new Rng(8), 0f, 255f, 1, 3, 224, 224);
        var centered = Run(new GraphModule(center), "rgb", rgb, "centered");
        AssertClose(Ort(Proto(PretrainedModels.ResNet18Onnx), Image, centered, Features), Ort(file, "rgb", rgb, Features));
    }

    [Fact]
    public void ResNetDeclaredForOneImageRunsBatchesOnceDynamic()
    {
        var model = ModelFile.Load(PretrainedModels.ResNet18Onnx);
        // GraphModule.Run does not hold dimension 0 to the declared 1 (only the other dimensions): a batch of 8 runs as it is.
        Assert.Equal([8, 512, 1, 1], Run(model, Image, Tensor.Zeros(8, 3, 224, 224), Features).Shape);
        Assert.Equal(BatchSupport.Yes, BatchDimension.Check(model));

        var dynamic = BatchDimension.MakeDynamic(model);

        Assert.Equal([-1, 3, 224, 224], dynamic.Graph.Inputs[0].Shape);
        Assert.Equal([-1, 512, 1, 1], dynamic.Graph.Outputs[0].Shape);
        var images = Tensor.Uniform(new Rng(9), -120f, 120f, 3, 3, 224, 224);
        var pair = Run(dynamic, Image, Tensor.Concat([Sample(images, 0), Sample(images, 1)], 0), Features);
        for (int i = 0; i < 2; i++) AssertClose(Run(model, Image, Sample(images, i), Features), Sample(pair, i));

        var file = OnnxExporter.ToModel(dynamic.Graph);
        Assert.Equal(BatchDimension.Name, file.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        var three = Ort(file, Image, images, Features);
        var original = Proto(PretrainedModels.ResNet18Onnx);
        for (int i = 0; i < 3; i++) AssertClose(Ort(original, Image, Sample(images, i), Features), Sample(three, i));
    }
}
