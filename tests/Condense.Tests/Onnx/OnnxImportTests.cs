// ONNX import against two oracles: PyTorch's own exports (fixtures with PyTorch's logits) and ONNX
// Runtime on small graphs built here; and the one-line errors for files the importer must refuse.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Optim;
using Condense.Tensors;
using Condense.Training;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public class OnnxImportTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    private static Tensor ReadNpy(string name)
    {
        var a = Npy.Read(Fixture(name));
        return new Tensor(a.ToFloat(), a.Shape);
    }

    [Fact]
    public void Mlp128ImportsWithItsInputsOutputsAndTrainableWeights()
    {
        var graph = OnnxImporter.Import(Fixture("mlp128.onnx"));
        var input = Assert.Single(graph.Inputs);
        Assert.Equal("input", input.Name);
        Assert.Equal([-1, 784], input.Shape);
        Assert.Equal("logits", Assert.Single(graph.Outputs).Name);
        Assert.Equal(["Flatten", "Gemm", "Relu", "Gemm"], graph.Nodes.Select(n => n.OpType));
        Assert.Equal(4, graph.Trainable.Count);
        Assert.Empty(graph.ElementTypes);
    }

    [Fact]
    public void Mlp128ReproducesPyTorchLogits()
    {
        var model = OnnxImporter.Load(Fixture("mlp128.onnx"));
        model.Eval();
        var expected = ReadNpy("mlp128.expected.npy");
        var logits = model.Forward(ReadNpy("mlp128.input.npy"));
        Assert.Equal(expected.Shape, logits.Shape);
        for (int i = 0; i < expected.Size; i++)
            Assert.True(Math.Abs(expected.Data[i] - logits.Data[i]) <= 1e-4f, $"logit {i}: {logits.Data[i]} vs PyTorch {expected.Data[i]}");
        var labels = Npy.Read(Fixture("labels16.npy")).ToInt();
        Assert.Equal(16, labels.Length);
    }

    [Fact]
    public void Mlp128MatchesPyTorchAccuracyOnEmbeddedMnist()
    {
        var model = OnnxImporter.Load(Fixture("mlp128.onnx"));
        model.Eval();
        var test = Mnist.LoadEmbedded().Test;
        Assert.Equal(2000, test.Count);
        var result = Evaluator.Evaluate(model, test);
        Assert.InRange(result.Accuracy * 100, 95.60, 95.70);
    }

    [Fact]
    public void ImportedModelTrains()
    {
        var model = OnnxImporter.Load(Fixture("mlp128.onnx"));
        model.Train();
        var x = ReadNpy("mlp128.input.npy");
        var labels = Npy.Read(Fixture("labels16.npy")).ToInt();
        var sgd = new Sgd(model.Parameters(), learningRate: 0.1f);
        var before = Losses.CrossEntropy(model.Forward(x), labels);
        sgd.ZeroGrad();
        before.Backward();
        sgd.Step();
        float after;
        using (GradMode.NoGrad()) after = Losses.CrossEntropy(model.Forward(x), labels).Item();
        Assert.True(after < before.Item(), $"loss {before.Item()} → {after}");
    }

    [Fact]
    public void Lenet5ReproducesPyTorchLogits()
    {
        var model = OnnxImporter.Load(Fixture("lenet5.onnx"));
        model.Eval();
        Assert.Equal([1, 28, 28], model.SampleShape);
        var expected = ReadNpy("lenet5.expected.npy");
        var logits = model.Forward(ReadNpy("lenet5.input.npy"));
        Assert.Equal(expected.Shape, logits.Shape);
        for (int i = 0; i < expected.Size; i++)
            Assert.True(Math.Abs(expected.Data[i] - logits.Data[i]) <= 1e-4f, $"logit {i}: {logits.Data[i]} vs PyTorch {expected.Data[i]}");
    }

    [Fact]
    public void Lenet5MatchesPyTorchAccuracyOnEmbeddedMnist()
    {
        // The fixture README gives PyTorch's accuracy on the 2,000 test images: 97.40 %.
        var model = OnnxImporter.Load(Fixture("lenet5.onnx"));
        model.Eval();
        var result = Evaluator.Evaluate(model, Mnist.LoadEmbedded().Test);
        Assert.InRange(result.Accuracy * 100, 97.35, 97.45);
    }

    [Fact]
    public void TruncatedFileIsOneLineError()
    {
        var bytes = File.ReadAllBytes(Fixture("mlp128.onnx"));
        string path = Path.Combine(Path.GetTempPath(), $"condense-{Guid.NewGuid():N}-truncated.onnx");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        try
        {
            var e = Assert.Throws<InvalidFileException>(() => OnnxImporter.Import(path));
            Assert.Contains(Path.GetFileName(path), e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void RandomBytesAreOneLineError(int seed)
    {
        var bytes = new byte[1000 + seed];
        new Random(seed).NextBytes(bytes);
        string path = Path.Combine(Path.GetTempPath(), $"condense-{Guid.NewGuid():N}-random.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            var e = Assert.Throws<InvalidFileException>(() => OnnxImporter.Import(path));
            Assert.Contains(Path.GetFileName(path), e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFileIsOneLineError()
    {
        var e = Assert.Throws<InvalidFileException>(() => OnnxImporter.Import("no-such-model.onnx"));
        Assert.Contains("no-such-model.onnx", e.Message);
    }

    [Fact]
    public void UndefinedValueIsReported()
    {
        var model = Model([Node("Relu", ["nowhere"], "y")], Value("x", -1, 4), Value("y", -1, 4));
        var e = ImportFails(model);
        Assert.Contains("'nowhere'", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(27)]
    public void OpsetOutsideOneToTwentySixIsRefused(long opset)
    {
        var model = Model([Node("Relu", ["x"], "y")], Value("x", -1, 4), Value("y", -1, 4), opset: opset);
        Assert.Contains($"opset {opset} is not supported", ImportFails(model).Message);
    }

    [Fact]
    public void UnknownDomainIsRefusedWhereANodeUsesIt()
    {
        // Declared and unused (as ONNX Runtime's saved models declare theirs), a domain asks for nothing.
        var model = Model([Node("Relu", ["x"], "y")], Value("x", -1, 4), Value("y", -1, 4));
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.example", Version = 1 });
        string path = Save(model, "unused-domain");
        try { Assert.Single(Condense.Onnx.OnnxImporter.Import(path).Nodes); }
        finally { File.Delete(path); }
        model.Graph.Node[0].Domain = "com.example";
        var e = ImportFails(model);
        Assert.Contains("com.example", e.Message);
        Assert.Contains("its ops here: Relu", e.Message);
    }

    [Fact]
    public void NodesOutOfOrderAreSortedAndCyclesReported()
    {
        var sorted = Model([Node("Relu", ["h"], "y"), Node("Sigmoid", ["x"], "h")], Value("x", -1, 4), Value("y", -1, 4));
        string path = Save(sorted, "sorted");
        try { Assert.Equal(["Sigmoid", "Relu"], OnnxImporter.Import(path).Nodes.Select(n => n.OpType)); }
        finally { File.Delete(path); }

        var cycle = Model([Node("Relu", ["h"], "y"), Node("Sigmoid", ["y"], "h")], Value("x", -1, 4), Value("y", -1, 4));
        Assert.Contains("cycle", ImportFails(cycle).Message);
    }

    [Fact]
    public void TransposeClipSqrtPowErfReduceMeanMatchOnnxRuntime()
    {
        var nodes = new[]
        {
            Node("Transpose", ["x"], "t", Ints("perm", 2, 0, 1)),
            Node("Clip", ["t", "lo", "hi"], "c"),
            Node("Sqrt", ["c"], "s"),
            Node("Pow", ["s", "three"], "p"),
            Node("Erf", ["p"], "e"),
            Node("ReduceMean", ["e"], "y", Ints("axes", 1), Int("keepdims", 1)),
        };
        var init = new[] { Floats("lo", [0.1f]), Floats("hi", [0.9f]), Floats("three", [3f]) };
        var model = Model(nodes, Value("x", 2, 3, 5), Value("y", 5, 1, 3), init);
        CompareWithOrt(model, [2, 3, 5]);
    }

    [Fact]
    public void ShapeArithmeticAroundReshapeMatchesOnnxRuntime()
    {
        // What PyTorch emits for x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat → Reshape.
        var nodes = new[]
        {
            Node("Constant", [], "zero", TensorValue("value", Longs("zero", [0]))),
            Node("Constant", [], "axes0", TensorValue("value", Longs("axes0", [0], 1))),
            Node("Shape", ["x"], "shape"),
            Node("Gather", ["shape", "zero"], "n", Int("axis", 0)),
            Node("Unsqueeze", ["n", "axes0"], "n1"),
            Node("Concat", ["n1", "minus1"], "newShape", Int("axis", 0)),
            Node("Reshape", ["x", "newShape"], "flat"),
            Node("Unsqueeze", ["flat", "axes1"], "u"),
            Node("Squeeze", ["u", "axes1"], "sq"),
            Node("Cast", ["sq"], "y", Int("to", 1)),
        };
        var init = new[] { Longs("minus1", [-1], 1), Longs("axes1", [1], 1) };
        var model = Model(nodes, Value("x", -1, 3, 4), Value("y", -1, 12), init);
        CompareWithOrt(model, [7, 3, 4]);
        string path = Save(model, "shape");
        try
        {
            var graph = OnnxImporter.Import(path);
            Assert.DoesNotContain(graph.Nodes, n => n.OpType == "Constant");
            Assert.Empty(graph.Trainable); // int64 shape constants are not weights
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TransposeHasTheGradientOfItsInverse()
    {
        var x = Tensor.Uniform(new Rng(3), -1f, 1f, 2, 3, 4);
        x.RequiresGrad = true;
        var weights = Tensor.Uniform(new Rng(4), -1f, 1f, 4, 2, 3);
        x.Permute(2, 0, 1).Mul(weights).Sum().Backward();
        // d/dx Σ w[k,i,j]·x[i,j,k] = w[k,i,j]
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++)
                    Assert.Equal(weights[k, i, j], x.Grad![i, j, k]);
    }

    private static void CompareWithOrt(ModelProto model, int[] shape)
    {
        var input = Tensor.Uniform(new Rng(11), -0.5f, 1.5f, shape);
        var expected = RunOrt(model, input.Data, shape);
        string path = Save(model, "ops");
        try
        {
            var module = OnnxImporter.Load(path);
            module.Eval();
            var actual = module.Forward(input);
            Assert.Equal(expected.Length, actual.Size);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual.Data[i]) <= 1e-5f, $"element {i}: {actual.Data[i]} vs ONNX Runtime {expected[i]}");
        }
        finally { File.Delete(path); }
    }

    private static CondenseException ImportFails(ModelProto model)
    {
        string path = Save(model, "bad");
        try
        {
            var e = Assert.ThrowsAny<CondenseException>(() => OnnxImporter.Import(path));
            Assert.DoesNotContain('\n', e.Message);
            return e;
        }
        finally { File.Delete(path); }
    }
}
