// A model as Paddle2ONNX writes it (Fixtures/onnx-paddle: PaddleOCR's direction classifier): every weight a Constant node,
// no initializer, and an input of free height and width. Its Constants are its parameters — counted, quantized, pruned —
// where PyTorch's few float Constants (rotary frequencies) stay fixed; images of any size run it. ONNX Runtime is the oracle.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Onnx;

public sealed class PaddleExportTests
{
    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx-paddle", "ch_ppocr_mobile_v2.0_cls_infer.onnx");

    private static global::Onnx.ModelProto Proto(byte[]? bytes = null) => global::Onnx.ModelProto.Parser.ParseFrom(bytes ?? File.ReadAllBytes(Fixture));

    private static Tensor OnnxRuntime(global::Onnx.ModelProto proto, Tensor x)
    {
        var outputs = TypedParity.RunOnnxRuntime(proto, [(proto.Graph.Input[0].Name, x)]);
        var y = outputs[proto.Graph.Output[0].Name];
        return new Tensor([.. y.Data], y.Shape);
    }

    private static Tensor Run(GraphModule model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    [Fact]
    public void ItsConstantNodesAreItsParameters()
    {
        var proto = Proto();
        Assert.Empty(proto.Graph.Initializer);
        var model = ModelFile.Load(Fixture);
        // Every weight a Conv or the MatMul head reads is trainable, and the running statistics of batch norm are not.
        var weights = model.Graph.Nodes.Where(n => n.OpType is OpTypes.Conv or OpTypes.MatMul).Select(n => n.Inputs[1]).ToList();
        Assert.Equal(54, weights.Count);
        Assert.All(weights, w => Assert.Contains(w, model.Graph.Trainable));
        var batchNorms = model.Graph.Nodes.Where(n => n.OpType == OpTypes.BatchNormalization).ToList();
        Assert.All(batchNorms, n => Assert.DoesNotContain(n.Inputs[3], model.Graph.Trainable));
        Assert.All(batchNorms, n => Assert.Contains(n.Inputs[1], model.Graph.Trainable));
        // The file's float Constants of rank ≥ 1, less the running statistics: counted independently from the protobuf.
        var statistics = batchNorms.SelectMany(n => n.Inputs.Skip(3)).ToHashSet();
        long expected = proto.Graph.Node.Where(n => n.OpType == "Constant" && n.Attribute[0].T is { DataType: 1, Dims.Count: > 0 }
            && !statistics.Contains(n.Output[0])).Sum(n => n.Attribute[0].T.Dims.Aggregate(1L, (a, d) => a * d));
        Assert.Equal(expected, model.Graph.Trainable.Sum(name => (long)model.Graph.Initializers[name].Size));

        // PyTorch's exporter writes a float Constant for a buffer computed in forward (Llama's rotary frequencies): fixed.
        var llama = ModelFile.Load(PyTorchFixtures.Path("llama-op14.onnx"));
        var rotary = Proto(File.ReadAllBytes(PyTorchFixtures.Path("llama-op14.onnx"))).Graph.Node
            .Single(n => n.OpType == "Constant" && n.Attribute[0].T is { DataType: 1, Dims.Count: > 0 }).Output[0];
        Assert.DoesNotContain(rotary, llama.Graph.Trainable);
    }

    [Theory]
    [InlineData(2, 48, 192)]
    [InlineData(1, 64, 160)]
    public void ItRunsImagesOfAnySizeAsOnnxRuntimeDoes(int batch, int height, int width)
    {
        var x = Tensor.Uniform(new Rng(3), -1f, 1f, batch, 3, height, width);
        Graph.TensorAsserts.Close(OnnxRuntime(Proto(), x), Run(ModelFile.Load(Fixture), x), 1e-5f);
    }

    [Fact]
    public void ItQuantizesOnImagesOfItsSizeAndOnnxRuntimeRunsTheResult()
    {
        var model = ModelFile.Load(Fixture);
        var images = new Dataset(Tensor.Uniform(new Rng(5), -1f, 1f, 16, 3, 48, 192).Data, null, [3, 48, 192]);
        var (quantized, layers) = Quantizer.Quantize(model, images, new QuantizeOptions());
        Assert.Equal(54, layers.Count);
        var x = images.Samples([0, 1, 2, 3]);
        var ours = Run(quantized, x);
        var ort = OnnxRuntime(Proto(Condense.Onnx.OnnxExporter.ToBytes(quantized.Graph)), x);
        // Two class probabilities per image: ONNX Runtime's integer arithmetic rounds apart from the simulation by a little.
        Graph.TensorAsserts.Close(ort, ours, 0.05f);
        Graph.TensorAsserts.Close(Run(model, x), ours, 0.1f);
    }

    [Fact]
    public void ItsFiltersAreCutThoughItsInputLeavesTheImageSizeFree()
    {
        // The channels are found by running one probe sample, whose free sizes are chosen (224): the cut model is smaller,
        // and ONNX Runtime runs it at other sizes as Condense does.
        var model = ModelFile.Load(Fixture);
        var result = StructuredPruning.Remove(model, 0.25);
        Assert.True(result.Changes.Count >= 10, $"{result.Changes.Count} groups cut");
        Assert.True(result.Model.Graph.Trainable.Sum(n => (long)result.Model.Graph.Initializers[n].Size)
            < 0.8 * model.Graph.Trainable.Sum(n => (long)model.Graph.Initializers[n].Size));
        var proto = Proto(Condense.Onnx.OnnxExporter.ToBytes(result.Model.Graph));
        foreach (var x in new[] { Tensor.Uniform(new Rng(9), -1f, 1f, 2, 3, 48, 192), Tensor.Uniform(new Rng(10), -1f, 1f, 1, 3, 64, 96) })
            Graph.TensorAsserts.Close(OnnxRuntime(proto, x), Run(result.Model, x), 1e-5f);
    }

    [Fact]
    public void TheCommandsRunItOnAFolderOfPhotos()
    {
        // Text-line crops of 48 × 192 (the model's own size) from colour patterns: eval, quantize and a calibrated filter cut.
        string dir = Directory.CreateTempSubdirectory("condense-paddle").FullName;
        try
        {
            for (int i = 0; i < 12; i++)
            {
                using var image = Data.Images.TestImages.Rgb(200, 50, (x, y) =>
                    new SixLabors.ImageSharp.PixelFormats.Rgb24((byte)(x * (i + 1)), (byte)(y * 5 + i * 20), (byte)((x + y) % 256)));
                Data.Images.TestImages.Save(image, Path.Combine(dir, "lines", $"{i:D2}.png"));
            }
            string[] images = ["--images", Path.Combine(dir, "lines"), "--crop", "48x192", "--resize", "0", "--json"];
            var q = Cli.CliRunner.Run(["quantize", Fixture, "--calibration", Path.Combine(dir, "lines"), "-o", Path.Combine(dir, "q.onnx"), .. images]);
            Assert.True(q.ExitCode == 0, q.Stderr);
            var quantized = System.Text.Json.JsonDocument.Parse(q.Stdout).RootElement;
            Assert.Equal(12, quantized.GetProperty("after").GetProperty("images").GetInt32());
            Assert.InRange(quantized.GetProperty("after").GetProperty("fidelity").GetProperty("cosine_mean").GetDouble(), 0.9, 1.0);
            var p = Cli.CliRunner.Run(["prune", Fixture, "--structured", "--ratio", "0.25", "--calibration", Path.Combine(dir, "lines"),
                "-o", Path.Combine(dir, "p.onnx"), .. images]);
            Assert.True(p.ExitCode == 0, p.Stderr);
            var pruned = System.Text.Json.JsonDocument.Parse(p.Stdout).RootElement;
            Assert.True(pruned.GetProperty("after").GetProperty("parameters").GetInt64() < pruned.GetProperty("before").GetProperty("parameters").GetInt64());
            var x = Tensor.Uniform(new Rng(4), -1f, 1f, 1, 3, 48, 192);
            Graph.TensorAsserts.Close(OnnxRuntime(Proto(File.ReadAllBytes(Path.Combine(dir, "p.onnx"))), x),
                Run(ModelFile.Load(Path.Combine(dir, "p.onnx")), x), 1e-5f);
        }
        finally { Directory.Delete(dir, true); }
    }
}
