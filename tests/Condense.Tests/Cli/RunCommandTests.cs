// `condense run`: a typed model run on .npy inputs, its outputs written as .npy in their own types and checked
// against ONNX Runtime; the single-input form, file-safe output names and one-line errors.
using Condense.Data;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Google.Protobuf;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Cli;

public sealed class RunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-run").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string SaveNpy(string name, Tensor t)
    {
        string path = Path.Combine(_dir, name);
        Npy.Write(path, NpyArray.FromTensor(t));
        return path;
    }

    [Fact]
    public void RunsATypedModelAndWritesEachOutputInItsType()
    {
        // uint8 wrap, an int64 comparison and a bool-selected float: three outputs of three types.
        var nodes = new[]
        {
            Node("Add", ["a", "b"], "sum"), Node("Cast", ["a"], "a64", Int("to", 7)), Node("Cast", ["b"], "b64", Int("to", 7)),
            Node("Greater", ["a64", "b64"], "more"), Node("Where", ["more", "x", "y"], "picked:0"),
        };
        var a = Tensor.FromInt64s([200, 5, 17], DataType.UInt8, 3);
        var b = Tensor.FromInt64s([100, 10, 17], DataType.UInt8, 3);
        var x = new Tensor([1f, 2f, 3f], 3);
        var y = new Tensor([-1f, -2f, -3f], 3);
        (string, Tensor)[] inputs = [("a", a), ("b", b), ("x", x), ("y", y)];
        var model = TypedParity.Model(nodes, inputs, [("sum", DataType.UInt8), ("more", DataType.Bool), ("picked:0", DataType.Float32)], opset: 14);
        string modelPath = Path.Combine(_dir, "typed.onnx");
        File.WriteAllBytes(modelPath, model.ToByteArray());
        var args = new List<string> { "run", modelPath, "-o", Path.Combine(_dir, "out"), "--json" };
        foreach (var (name, value) in inputs) args.AddRange(["--input", $"{name}={SaveNpy(name + ".npy", value)}"]);

        var result = CliRunner.Run([.. args]);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("\"type\":\"uint8\"", result.Stdout);
        var expected = TypedParity.RunOnnxRuntime(model, inputs);
        foreach (var (output, file) in new[] { ("sum", "sum"), ("more", "more"), ("picked:0", "picked_0") })
        {
            var actual = Npy.Read(Path.Combine(_dir, "out", file + ".npy")).ToTensor();
            Assert.Null(OnnxConformanceTests.OutputMismatch("run", output, expected[output], actual));
        }
        Assert.Equal([44L, 15L, 34L], Npy.Read(Path.Combine(_dir, "out", "sum.npy")).ToTensor().Int64Data);
    }

    [Fact]
    public void ASingleInputModelTakesAnUnnamedFileAndBadInputsAreOneLine()
    {
        var model = TypedParity.Model([Node("Neg", ["x"], "y")], [("x", Tensor.FromInt64s([1, -2], DataType.Int32, 2))], [("y", DataType.Int32)]);
        string modelPath = Path.Combine(_dir, "neg.onnx");
        File.WriteAllBytes(modelPath, model.ToByteArray());
        string input = SaveNpy("x.npy", Tensor.FromInt64s([7, -9], DataType.Int32, 2));

        var result = CliRunner.Run("run", modelPath, "--input", input, "-o", Path.Combine(_dir, "neg"));
        if (result.ExitCode == 0)
            Assert.Equal([-7L, 9L], Npy.Read(Path.Combine(_dir, "neg", "y.npy")).ToTensor().Int64Data);
        else Assert.Contains("Neg", result.Stderr); // until Neg is registered, a one-line refusal naming it

        var unknown = CliRunner.Run("run", modelPath, "--input", $"z={input}", "-o", Path.Combine(_dir, "neg2"));
        Assert.Equal(1, unknown.ExitCode);
        Assert.Single(unknown.Stderr.Trim().Split('\n'));
        var wrongType = CliRunner.Run("run", modelPath, "--input", SaveNpy("f.npy", Tensor.FromDoubles([1.5], 1)), "-o", _dir);
        Assert.Equal(1, wrongType.ExitCode);
        Assert.Single(wrongType.Stderr.Trim().Split('\n'));
    }

    public static TheoryData<DataType> NpyTypes() => [.. DataTypes.All.Where(t => t != DataType.BFloat16)];

    [Theory]
    [MemberData(nameof(NpyTypes))]
    public void NpyHoldsEveryTypeExactly(DataType type)
    {
        var t = TypedParity.Random(type, [2, 3], 11, low: -1e3, high: 1e3);
        if (type == DataType.Int64) t.Int64Data[0] = (1L << 62) + 1;
        string path = SaveNpy($"{type}.npy", t);
        var back = Npy.Read(path).ToTensor();
        Assert.Null(OnnxConformanceTests.OutputMismatch("npy", type.ToString(), t, back));
    }

    [Fact]
    public void OutputNamesBecomeFileSafe()
    {
        Assert.Equal("logits_0", Condense.Inference.ModelRunner.FileName("logits:0"));
        Assert.Equal("_encoder_out", Condense.Inference.ModelRunner.FileName("/encoder/out"));
        Assert.Equal("output", Condense.Inference.ModelRunner.FileName(".."));
    }
}
