// ONNX Conv against ONNX Runtime: a traced convolutional model (stride, padding, dilation, groups,
// asymmetric pads) exported and run by ORT; hand-built Conv nodes with auto_pad (SAME_UPPER, SAME_LOWER,
// VALID), no kernel_shape, and a 1-D convolution; and import(export) giving the same model, which trains
// (gradients equal to the original module's).
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class OnnxConvTests
{
    private static Sequential ConvNet() => new(
        new Conv2d(2, 4, 3, stride: 2, padding: 1, rng: new Rng(1)),
        new ReLU(),
        new Conv2d(4, 6, 3, 2, new Conv2dOptions(PadTop: 1, PadLeft: 0, PadBottom: 2, PadRight: 1, DilationH: 2, Groups: 2), rng: new Rng(2)),
        new ReLU(),
        new Conv2d(6, 6, 1, bias: false, rng: new Rng(3)),
        new Flatten(),
        new Linear(6 * 7 * 7, 5, rng: new Rng(4)));

    private static float[] Ours(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x).Data;
    }

    private static float[] RunOrt(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        var input = new DenseTensor<float>(x.Data.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    // |ours − ORT| ≤ 1e-4 · max(1, max |ORT|).
    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f * scale, $"[{i}]: ORT {expected[i]}, ours {actual[i]}");
    }

    [Fact]
    public void TracedConvNetMatchesOnnxRuntime()
    {
        var model = ConvNet();
        var graph = GraphTracer.Trace(model, [2, 15, 14]);
        var conv = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(3, conv.Count);
        Assert.Equal("[1, 0, 2, 1]", conv[1].Attributes["pads"].ToString());
        Assert.Equal(2, conv[1].Int("group", 1));
        Assert.Equal(["input", "0.weight", "0.bias"], conv[0].Inputs);
        Assert.Equal(["4.weight"], conv[2].Inputs.Skip(1));
        byte[] onnx = OnnxExporter.ToBytes(graph);
        foreach (int batch in new[] { 3, 1 })
        {
            var x = Tensor.Uniform(new Rng(5 + (ulong)batch), -1f, 1f, batch, 2, 15, 14);
            AssertClose(RunOrt(onnx, x), Ours(model, x));
        }
    }

    [Fact]
    public void ImportOfExportIsTheSameModelAndTrainsTheSame()
    {
        var model = ConvNet();
        byte[] onnx = OnnxExporter.ToBytes(model, [2, 15, 14]);
        string path = Path.Combine(Path.GetTempPath(), $"condense-conv-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        GraphModule back;
        try { back = OnnxImporter.Load(path); }
        finally { File.Delete(path); }
        Assert.Equal(model.NamedParameters().Select(p => p.Name), back.NamedParameters().Select(p => p.Name));
        var x = Tensor.Uniform(new Rng(9), -1f, 1f, 4, 2, 15, 14);
        Assert.Equal(Ours(model, x), Ours(back, x));

        // The imported graph is trainable: the same loss gives the same gradients as the original module.
        foreach (var m in new Module[] { model, back }) { m.Train(); m.ZeroGrad(); m.Forward(x).Mul(x.Sum(3).Sum(2).Sum(1).Reshape(4, 1)).Sum().Backward(); }
        foreach (var ((name, p), (_, q)) in model.NamedParameters().Zip(back.NamedParameters()))
            Assert.True(p.Grad!.Data.Zip(q.Grad!.Data).All(t => MathF.Abs(t.First - t.Second) <= 1e-5f * (1 + MathF.Abs(t.First))), name);
    }

    public static TheoryData<string, int[], int[], int[]> AutoPadCases() => new()
    {
        // auto_pad, input shape, weight shape, strides (kernel_shape is omitted: it comes from the weight)
        { "SAME_UPPER", [2, 3, 7, 8], [4, 3, 3, 2], [2, 3] },
        { "SAME_LOWER", [2, 3, 7, 8], [4, 3, 3, 2], [2, 3] },
        { "SAME_LOWER", [1, 2, 6, 6], [2, 2, 4, 4], [1, 1] },
        { "VALID", [1, 2, 6, 5], [3, 2, 3, 3], [2, 1] },
        { "NOTSET", [1, 2, 6, 5], [3, 2, 3, 3], [1, 2] },
    };

    [Theory]
    [MemberData(nameof(AutoPadCases))]
    public void AutoPadAndInferredKernelShapeMatchOnnxRuntime(string autoPad, int[] inputShape, int[] weightShape, int[] strides)
    {
        var node = new Node("conv", "Conv", ["x", "w", "b"], ["y"]);
        node.Attributes["auto_pad"] = AttributeValue.String(autoPad);
        node.Attributes["strides"] = AttributeValue.Ints(strides.Select(s => (long)s).ToArray());
        AssertGraphMatchesOrt(node, inputShape, weightShape);
    }

    [Fact]
    public void OneDimensionalConvMatchesOnnxRuntime()
    {
        var node = new Node("conv", "Conv", ["x", "w", "b"], ["y"]);
        node.Attributes["kernel_shape"] = AttributeValue.Ints(3);
        node.Attributes["strides"] = AttributeValue.Ints(2);
        node.Attributes["pads"] = AttributeValue.Ints(2, 1);
        node.Attributes["dilations"] = AttributeValue.Ints(2);
        AssertGraphMatchesOrt(node, [2, 3, 11], [4, 3, 3]);
    }

    [Fact]
    public void FourDimensionalConvIsAOneLineError()
    {
        var node = new Node("conv4d", "Conv", ["x", "w"], ["y"]);
        var e = Assert.Throws<CondenseException>(
            () => GraphOps.Run(node, [Tensor.Zeros(1, 1, 4, 4, 4, 4), Tensor.Zeros(1, 1, 2, 2, 2, 2)], new OpContext(false, new Rng(0))));
        Assert.Contains("conv4d", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static void AssertGraphMatchesOrt(Node node, int[] inputShape, int[] weightShape)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, .. inputShape[1..]]));
        graph.Initializers["w"] = Tensor.Uniform(new Rng(1), -1f, 1f, weightShape);
        graph.Initializers["b"] = Tensor.Uniform(new Rng(2), -1f, 1f, weightShape[0]);
        graph.Trainable.UnionWith(["w", "b"]);
        graph.Nodes.Add(node);
        var x = Tensor.Uniform(new Rng(3), -1f, 1f, inputShape);
        // The declared output shape is the one the op computes; ORT checks it against its own shape inference.
        var y = GraphOps.Run(node, [x, graph.Initializers["w"], graph.Initializers["b"]], new OpContext(false, new Rng(0)))[0];
        graph.Outputs.Add(new ValueInfo("y", [-1, .. y.Shape[1..]]));
        var ours = Ours(new GraphModule(graph), x);
        Assert.Equal(y.Data, ours);
        AssertClose(RunOrt(OnnxExporter.ToBytes(graph), x), ours);
    }
}
