// Round trips: import(export(m)) is the same model (same outputs, same parameter names), and
// export(import(f)) of PyTorch's fixture runs in ONNX Runtime with the fixture's outputs.
using Condense.Formats;
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

namespace Condense.Tests.Onnx;

public sealed class OnnxRoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-onnx-rt-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    private static float[] Run(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x).Data;
    }

    [Theory]
    [InlineData("mlp:784-33-17-10")]
    [InlineData("mlp:784-20-10,act=tanh,dropout=0.3")]
    public void ImportOfExportIsTheSameModel(string spec)
    {
        var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse(spec).Build(4), [784]));
        string path = Path.Combine(_dir, "m.onnx");
        ModelFile.Save(model.Graph, path);
        var back = ModelFile.Load(path);
        Assert.Equal(model.NamedParameters().Select(p => p.Name), back.NamedParameters().Select(p => p.Name));
        var x = Tensor.Uniform(new Rng(5), 0f, 1f, 3, 784);
        Assert.Equal(Run(model, x), Run(back, x));
    }

    [Fact]
    public void ExportOfImportRunsInOnnxRuntimeLikeTheFixture()
    {
        var imported = ModelFile.Load(Fixture("mlp128.onnx"));
        string path = Path.Combine(_dir, "again.onnx");
        ModelFile.Save(imported.Graph, path);
        var input = Npy.Read(Fixture("mlp128.input.npy"));
        var expected = Npy.Read(Fixture("mlp128.expected.npy")).ToFloat();
        using var session = new InferenceSession(path);
        var x = new DenseTensor(input.ToFloat(), input.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), x)]);
        var actual = results.Single().AsEnumerable<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + MathF.Abs(expected[i])), $"logit {i}: {expected[i]} vs {actual[i]}");
    }
}

public sealed class OnnxShapeMismatchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-onnx-shape-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AnInitializerWhoseShapeDoesNotFitIsAOneLineErrorAtLoad()
    {
        var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-16-10").Build(1), [784]);
        graph.Initializers["3.weight"] = Tensor.Zeros(10, 15); // the layer before gives 16 features
        string path = Path.Combine(_dir, "misfit.onnx");
        OnnxExporter.Export(graph, path);
        var e = Assert.Throws<InvalidFileException>(() => ModelFile.Load(path));
        Assert.Contains("misfit.onnx", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
