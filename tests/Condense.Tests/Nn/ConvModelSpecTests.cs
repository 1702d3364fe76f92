// The convolutional model specs: lenet5 and resnet-mini parse, print, build the issue's layers with
// the right shapes, reject bad options in one line, and run the same forward pass as their traced
// graph, in our engine and in ONNX Runtime (residual additions and batch norm included).
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Nn;

public sealed class ConvModelSpecTests
{
    [Theory]
    [InlineData("lenet5", "lenet5")]
    [InlineData("LeNet-5", "lenet5")]
    [InlineData("resnet-mini", "resnet-mini")]
    [InlineData("lenet5,input=3x32x32,classes=100", "lenet5,input=3x32x32,classes=100")]
    [InlineData("resnet-mini,input=3x32x32,classes=10,width=8", "resnet-mini,input=3x32x32,width=8")]
    public void ToStringRoundTrips(string text, string printed)
    {
        var spec = ModelSpec.Parse(text);
        Assert.Equal(printed, spec.ToString());
        var again = ModelSpec.Parse(spec.ToString());
        Assert.Equal(spec.Kind, again.Kind);
        Assert.Equal(spec.ImageShape, again.ImageShape);
        Assert.Equal(spec.Sizes, again.Sizes);
        Assert.Equal(spec.Width, again.Width);
    }

    [Fact]
    public void LeNet5HasTheIssuesLayers()
    {
        var model = ModelSpec.Parse("lenet5").Build(0);
        var convs = model.Layers.OfType<Conv2d>().ToArray();
        Assert.Equal([6, 1, 5, 5], convs[0].Weight.Shape);
        Assert.Equal(2, convs[0].Options.PadTop);
        Assert.Equal([16, 6, 5, 5], convs[1].Weight.Shape);
        Assert.Equal(0, convs[1].Options.PadTop);
        Assert.Equal(2, model.Layers.OfType<MaxPool2d>().Count());
        Assert.Equal([(400, 120), (120, 84), (84, 10)], model.Layers.OfType<Linear>().Select(l => (l.InFeatures, l.OutFeatures)));
        Assert.Equal(61_706, model.ParameterCount());   // PyTorch's LeNet-5 of the same layers has 61,706
        using (GradMode.NoGrad())
        {
            Assert.Equal([3, 10], model.Forward(Tensor.Zeros(3, 784)).Shape);          // flat MNIST rows
            Assert.Equal([3, 10], model.Forward(Tensor.Zeros(3, 1, 28, 28)).Shape);    // or images
        }
        var cifar = ModelSpec.Parse("lenet5,input=3x32x32,classes=100").Build(0);
        Assert.Equal(16 * 6 * 6, cifar.Layers.OfType<Linear>().First().InFeatures);
        using (GradMode.NoGrad()) Assert.Equal([2, 100], cifar.Forward(Tensor.Zeros(2, 3 * 32 * 32)).Shape);
    }

    [Fact]
    public void ResNetMiniHasResidualStagesAndBatchNorm()
    {
        var model = ModelSpec.Parse("resnet-mini,width=8").Build(0);
        var blocks = model.Layers.OfType<ResidualBlock>().ToArray();
        Assert.Equal(3, blocks.Length);
        Assert.Null(blocks[0].Shortcut);                       // 8 → 8, stride 1: identity
        Assert.NotNull(blocks[1].Shortcut);                    // 8 → 16, stride 2: 1×1 conv + BN
        Assert.Equal(2, blocks[1].Conv1.Options.StrideH);
        Assert.Equal([32, 16, 3, 3], blocks[2].Conv1.Weight.Shape);
        Assert.Contains(model.StateDict().Keys, k => k == "5.shortcut.1.running_var");
        using (GradMode.NoGrad()) Assert.Equal([2, 10], model.Eval().Forward(Tensor.Zeros(2, 784)).Shape);
    }

    [Theory]
    [InlineData("lenet5,width=4", "unknown option 'width'")]
    [InlineData("lenet5,input=1x8x8", "at least 12x12")]
    [InlineData("resnet-mini,input=28x28", "expected CxHxW")]
    [InlineData("resnet-mini,classes=0", "classes must be a positive integer")]
    [InlineData("lenet5:784-10", "unknown model spec")]
    [InlineData("resnet-mini,dropout=0.5", "unknown option 'dropout'")]
    public void BadSpecsAreOneLineErrors(string text, string expected)
    {
        var e = Assert.Throws<CondenseException>(() => ModelSpec.Parse(text));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void UnflattenRefusesASizeThatCannotMatch()
    {
        var e = Assert.Throws<CondenseException>(() => new Unflatten(1, 28, 28).Forward(Tensor.Zeros(2, 100)));
        Assert.Contains("cannot be shaped", e.Message);
    }

    [Theory]
    [InlineData("lenet5")]
    [InlineData("resnet-mini,width=8")]
    public void TracedModelMatchesModuleAndOnnxRuntime(string text)
    {
        var model = ModelSpec.Parse(text).Build(3);
        // One training step first, so the batch-norm running statistics are not the identity.
        var rng = new Rng(5);
        var x = Tensor.Uniform(rng, 0f, 1f, 8, 784);
        model.Train();
        model.Forward(x).Sum().Backward();
        model.Eval();
        Tensor ours;
        using (GradMode.NoGrad()) ours = model.Forward(x);

        var graph = GraphTracer.Trace(model, [1, 28, 28]);
        if (text.StartsWith("resnet")) Assert.Equal(3, graph.Nodes.Count(n => n.OpType == "Add"));
        var traced = new GraphModule(graph);
        traced.Eval();
        Tensor tracedOut, fused;
        using (GradMode.NoGrad()) tracedOut = traced.Run(x)[graph.Outputs[0].Name];
        Assert.Equal(ours.Data, tracedOut.Data);
        // Forward in evaluation without gradients folds the batch norms into the convolutions: the same within rounding.
        using (GradMode.NoGrad()) fused = traced.Forward(x);
        float largest = Math.Max(1f, ours.Data.Max(MathF.Abs));
        for (int i = 0; i < fused.Size; i++) Assert.True(MathF.Abs(fused.Data[i] - ours.Data[i]) <= 1e-5f * largest, $"[{i}]");

        using var session = new InferenceSession(OnnxExporter.ToBytes(graph));
        var input = new DenseTensor<float>(x.Data.ToArray(), [8, 1, 28, 28]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        var ort = results.Single().AsEnumerable<float>().ToArray();
        float scale = Math.Max(1f, ort.Max(MathF.Abs));
        for (int i = 0; i < ort.Length; i++)
            Assert.True(MathF.Abs(ort[i] - ours.Data[i]) <= 1e-4f * scale, $"[{i}]: ORT {ort[i]}, ours {ours.Data[i]}");
    }
}
