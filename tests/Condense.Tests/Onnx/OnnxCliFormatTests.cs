// The command line with ONNX files end to end: every model command reads .onnx and writes the format
// of its output's extension, calibration data comes from a .npy file or a folder and is shaped to the
// model's declared input, and every kind of bad ONNX file is one line on stderr with nothing written.
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tests.Cli;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public sealed class OnnxCliFormatTests() : CliWorkspace("condense-onnx-cli-format-")
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    // An MLP exported with the image-shaped input (N, 1, 28, 28), as a CNN-style exporter would declare it.
    private string ImageInputOnnx()
    {
        string path = Path.Combine(Dir, "mlp-image.onnx");
        OnnxExporter.Export(ModelSpec.Parse("mlp:784-24-10").Build(3), [1, 28, 28], path);
        Assert.Equal([-1, 1, 28, 28], OnnxImporter.Import(path).Inputs[0].Shape);
        return path;
    }

    [Fact]
    public void QuantizeCalibratesFromANpyFileOrAFolderShapedToTheDeclaredInput()
    {
        string model = ImageInputOnnx();
        var (train, _) = Mnist.LoadEmbedded();
        var images = train.Take(64);
        string npy = Path.Combine(Dir, "calibration.npy");
        Npy.Write(npy, images.Features, [64, 1, 28, 28]);

        string fromNpy = Path.Combine(Dir, "q-npy.onnx");
        var r = CliRunner.Run("quantize", model, "--calibration", npy, "--data", Data, "-o", fromNpy, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var session = new InferenceSession(fromNpy)) Assert.Equal([-1, 1, 28, 28], session.InputMetadata.Values.Single().Dimensions);

        // A folder of IDX files calibrates too; a .safetensors output is a checkpoint, not ONNX.
        string fromFolder = Path.Combine(Dir, "q-folder.safetensors");
        r = CliRunner.Run("quantize", model, "--calibration", Data, "--data", Data, "-o", fromFolder, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains(Checkpoint.Load(fromFolder).Graph.Nodes, n => n.OpType == "QuantizeLinear");
        Assert.Throws<Google.Protobuf.InvalidProtocolBufferException>(() => ModelProto.Parser.ParseFrom(File.ReadAllBytes(fromFolder)));

        // Samples that cannot take the model's input shape: one line, nothing written.
        string wrong = Path.Combine(Dir, "wrong.npy");
        Npy.Write(wrong, new float[8 * 100], [8, 100]);
        string notWritten = Path.Combine(Dir, "q-wrong.onnx");
        AssertOneLineError(CliRunner.Run("quantize", model, "--calibration", wrong, "--data", Data, "-o", notWritten), "[8, 100]");
        Assert.False(File.Exists(notWritten));
    }

    [Fact]
    public void DistillTakesAnOnnxTeacherAndWritesAnOnnxStudent()
    {
        string student = Path.Combine(Dir, "student.onnx");
        var r = CliRunner.Run("distill", "--teacher", Fixture("mlp128.onnx"), "--student", "mlp:784-16-10", "--epochs", "1",
            "--data", Data, "-o", student, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(["Gemm", "Relu", "Gemm"], OnnxImporter.Import(student).Nodes.Select(n => n.OpType).Where(op => op != "Flatten"));
        // The student declares the data's sample shape; ONNX Runtime runs it on a batch of that shape.
        using var session = new InferenceSession(student);
        var (name, meta) = session.InputMetadata.Single();
        int[] shape = [3, .. meta.Dimensions[1..]];
        Assert.Equal(3 * 784, shape.Aggregate(1, (a, d) => a * d));
        var feed = NamedOnnxValue.CreateFromTensor(name, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(new float[3 * 784], shape));
        using var results = session.Run([feed]);
        Assert.Equal(30, results.First().AsEnumerable<float>().Count());
    }

    public static TheoryData<string> BadFiles() => ["truncated", "random bytes", "undefined input", "cycle", "initializer shape", "opset 99", "external data"];

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadOnnxFileIsOneLineErrorAndNothingIsWritten(string kind)
    {
        string bad = Path.Combine(Dir, "bad.onnx");
        byte[] fixture = File.ReadAllBytes(Fixture("mlp128.onnx"));
        var x = Value("x", -1, 784);
        var y = Value("y", -1, 784);
        switch (kind)
        {
            case "truncated": File.WriteAllBytes(bad, fixture[..(fixture.Length * 2 / 3)]); break;
            case "random bytes":
                var bytes = new byte[4096];
                new Random(5).NextBytes(bytes);
                File.WriteAllBytes(bad, bytes);
                break;
            case "undefined input": File.WriteAllBytes(bad, ToBytes(Model([Node("Relu", ["nowhere"], "y")], x, y))); break;
            case "cycle": File.WriteAllBytes(bad, ToBytes(Model([Node("Relu", ["h"], "y"), Node("Sigmoid", ["y"], "h")], x, y))); break;
            case "initializer shape":
                var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-16-10").Build(1), [784]);
                graph.Initializers["3.weight"] = Condense.Tensors.Tensor.Zeros(10, 15);
                OnnxExporter.Export(graph, bad);
                break;
            case "opset 99": File.WriteAllBytes(bad, ToBytes(Model([Node("Relu", ["x"], "y")], x, y, opset: 99))); break;
            case "external data":
                var w = new TensorProto { Name = "w", DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
                w.Dims.AddRange([784L, 784L]);
                w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "w.bin" });
                File.WriteAllBytes(bad, ToBytes(Model([Node("MatMul", ["x", "w"], "y")], x, y, [w])));
                break;
        }
        string output = Path.Combine(Dir, "out.onnx");
        AssertOneLineError(CliRunner.Run("quantize", bad, "--data", Data, "-o", output), "bad.onnx");
        Assert.False(File.Exists(output));
        AssertOneLineError(CliRunner.Run("info", bad), "bad.onnx");
    }

    private static byte[] ToBytes(ModelProto model) => Google.Protobuf.MessageExtensions.ToByteArray(model);
}
