// Pooling and batch norm through the graph and ONNX: traced models exported and run by ONNX Runtime
// (the oracle for output sizes, ceil mode and count_include_pad), import(export) round trips, a traced
// BatchNorm2d that trains in a GraphModule exactly as the module does, and the refused 3-D pooling.
// The ONNX node tests test_maxpool_3d_default and test_averagepool_3d_default are not in
// Fixtures/onnx-node: 3-D pooling is not supported (3-D convnets are not in scope); 1-D runs as 2-D.
using Condense.Formats;
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

namespace Condense.Tests.Onnx;

public sealed class PoolBatchNormOnnxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-onnx-pool-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Tensor Ours(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    private static (float[] Values, int[] Shape) Ort(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor(x.Data.ToArray(), x.Shape))]);
        var y = results.Single().AsTensor<float>();
        return (y.ToArray(), y.Dimensions.ToArray());
    }

    private static void AssertClose(Tensor ours, (float[] Values, int[] Shape) ort, float tolerance)
    {
        Assert.Equal(ort.Shape, ours.Shape);
        for (int i = 0; i < ours.Size; i++)
            Assert.True(
                MathF.Abs(ours.Data[i] - ort.Values[i]) <= tolerance * (1 + MathF.Abs(ort.Values[i])),
                $"[{i}]: ours {ours.Data[i]}, ORT {ort.Values[i]}");
    }

    // A batch-norm layer with non-trivial parameters and running statistics.
    private static BatchNorm2d RandomBatchNorm(int channels, ulong seed)
    {
        var rng = new Rng(seed);
        var bn = new BatchNorm2d(channels);
        for (int c = 0; c < channels; c++)
        {
            bn.Weight.Data[c] = 0.5f + rng.NextFloat();
            bn.Bias.Data[c] = rng.NextFloat() - 0.5f;
            bn.RunningMean.Data[c] = rng.NextFloat() - 0.5f;
            bn.RunningVar.Data[c] = 0.5f + rng.NextFloat();
        }
        return bn;
    }

    public static TheoryData<int, int, int, int, bool, bool, bool> PoolCases() => new()
    {
        // kernel, stride, pad, dilation, ceil, countIncludePad, max
        { 2, 2, 0, 1, false, true, true },
        { 3, 2, 1, 1, true, true, true },
        { 3, 2, 1, 2, true, true, true },
        { 2, 3, 1, 1, true, true, true },
        { 2, 2, 0, 1, true, true, false },
        { 3, 2, 1, 1, false, true, false },
        { 3, 2, 1, 1, false, false, false },
        { 3, 2, 1, 1, true, true, false },
        { 3, 2, 1, 1, true, false, false },
        { 4, 3, 2, 1, true, true, false },
    };

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void PoolingMatchesOnnxRuntime(int kernel, int stride, int pad, int dilation, bool ceil, bool countIncludePad, bool max)
    {
        Module pool = max ? new MaxPool2d(kernel, stride, pad, dilation, ceil) : new AvgPool2d(kernel, stride, pad, ceil, countIncludePad);
        int[] sample = [3, 11, 10];
        var x = Tensor.Normal(new Rng(1), 0f, 1f, [2, .. sample]);
        AssertClose(Ours(pool, x), Ort(OnnxExporter.ToBytes(pool, sample), x), 1e-5f);
    }

    private static Sequential BnPoolModel() => new(RandomBatchNorm(3, 2), new ReLU(), new MaxPool2d(3, 2, 1, ceilMode: true),
        new AvgPool2d(2, 2, 1, ceilMode: true, countIncludePad: false), new GlobalAvgPool2d(), new Flatten());

    [Fact]
    public void TracedBatchNormAndPoolingModelMatchesOnnxRuntime()
    {
        var model = BnPoolModel();
        int[] sample = [3, 13, 11];
        var x = Tensor.Normal(new Rng(3), 0.3f, 1.5f, [4, .. sample]);
        var graph = GraphTracer.Trace(model, sample);
        Assert.Equal(["BatchNormalization", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten"], graph.Nodes.Select(n => n.OpType));
        Assert.DoesNotContain("0.running_mean", graph.Trainable);
        var ours = Ours(model, x);
        Assert.Equal([4, 3], ours.Shape);
        AssertClose(ours, Ort(OnnxExporter.ToBytes(graph), x), 1e-4f);
    }

    [Fact]
    public void BatchNorm1dAfterALinearMatchesOnnxRuntime()
    {
        var bn = new BatchNorm1d(5);
        var model = new Sequential(new Linear(7, 5, rng: new Rng(8)), bn);
        bn.Train();
        bn.Forward(Tensor.Normal(new Rng(9), 1f, 2f, 16, 5)); // running statistics away from (0, 1)
        var x = Tensor.Normal(new Rng(10), 0f, 1f, 3, 7);
        AssertClose(Ours(model, x), Ort(OnnxExporter.ToBytes(model, [7]), x), 1e-5f);
    }

    [Theory]
    [InlineData("bn.onnx")]
    [InlineData("bn.safetensors")] // the checkpoint format keeps the running statistics as buffers too
    public void ImportOfExportIsTheSameModel(string file)
    {
        var model = BnPoolModel();
        string path = Path.Combine(_dir, file);
        ModelFile.Save(model, path, [3, 13, 11]);
        var back = ModelFile.Load(path);
        Assert.Equal(model.NamedParameters().Select(p => p.Name), back.NamedParameters().Select(p => p.Name));
        Assert.Equal(model.NamedBuffers().Select(p => p.Name), back.NamedBuffers().Select(p => p.Name));
        var x = Tensor.Normal(new Rng(4), 0f, 1f, 2, 3, 13, 11);
        Assert.Equal(Ours(model, x).Data, Ours(back, x).Data);
    }

    [Fact]
    public void TracedBatchNormTrainsInAGraphModuleAsTheModuleDoes()
    {
        var module = RandomBatchNorm(3, 5);
        var twin = RandomBatchNorm(3, 5);
        var graphModule = new GraphModule(GraphTracer.Trace(twin, [3, 4, 5]));
        var x = Tensor.Normal(new Rng(6), 1f, 2f, 6, 3, 4, 5);
        var weights = Tensor.Normal(new Rng(7), 0f, 1f, 6, 3, 4, 5);

        var xModule = x.Clone(); xModule.RequiresGrad = true;
        var xGraph = x.Clone(); xGraph.RequiresGrad = true;
        var yModule = module.Forward(xModule);
        var yGraph = graphModule.Forward(xGraph);
        yModule.Mul(weights).Sum().Backward();
        yGraph.Mul(weights).Sum().Backward();

        Assert.Equal(yModule.Data, yGraph.Data);
        Assert.Equal(xModule.Grad!.Data, xGraph.Grad!.Data);
        Assert.Equal(module.Weight.Grad!.Data, twin.Weight.Grad!.Data);
        // The graph holds ONNX momentum 1 − 0.1 in float32, so the update differs from the module's in the last bit.
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(module.RunningMean.Data[c], twin.RunningMean.Data[c], 1e-6f);
            Assert.Equal(module.RunningVar.Data[c], twin.RunningVar.Data[c], 1e-6f);
        }
        Assert.NotEqual(RandomBatchNorm(3, 5).RunningVar.Data, twin.RunningVar.Data); // the step really updated them
        Assert.Equal(["weight", "bias"], graphModule.NamedParameters().Select(p => p.Name)); // buffers are not trained
    }

    [Fact]
    public void FourDimensionalPoolingIsAOneLineError()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [1, 1, 2, 2, 2, 2]));
        var kernel = new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Ints(2, 2, 2, 2) };
        graph.Nodes.Add(new Node("pool", "MaxPool", ["x"], ["y"], kernel));
        graph.Outputs.Add(new ValueInfo("y", [1, 1, 1, 1, 1, 1]));
        var e = Assert.Throws<CondenseException>(() => new GraphModule(graph).Forward(Tensor.Zeros(1, 1, 2, 2, 2, 2)));
        Assert.Contains("'pool'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
