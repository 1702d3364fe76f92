// ONNX export against its oracle, ONNX Runtime: a float MLP (flat and image-shaped inputs, batches of 5
// and 1 through the dynamic batch dimension), a static int8 QDQ model (against the float simulation and
// the integer engine), a weight-only int4 model (INT4 initializers, opset 21), initializer names read back
// with OnnxSharp, and the atomic write.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Condense.Tensors.Tensor;
using Onnx;
using Xunit.Abstractions;

namespace Condense.Tests.Onnx;

public class OnnxExportTests(ITestOutputHelper output)
{
    private static Tensor RandomBatch(int batch, int[] sampleShape, ulong seed)
    {
        var rng = new Rng(seed);
        var x = Tensor.Zeros([batch, .. sampleShape]);
        for (int i = 0; i < x.Size; i++) x.Data[i] = rng.NextFloat();
        return x;
    }

    private static Tensor Ours(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x);
    }

    private static float[] RunOrt(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        var input = new DenseTensor<float>(x.Data.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    // |a − b| ≤ tol · max(1, max |b|): relative to the logits' scale, so near-zero logits do not dominate.
    private static void AssertClose(float[] expected, float[] actual, float tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol * scale, $"[{i}]: ours {expected[i]}, ORT {actual[i]}");
    }

    private static int[] Argmax(float[] logits, int classes) =>
        Enumerable.Range(0, logits.Length / classes)
            .Select(r => { var row = logits.AsSpan(r * classes, classes); return row.IndexOf(TensorPrimitivesMax(row)); }).ToArray();

    private static float TensorPrimitivesMax(ReadOnlySpan<float> row) => System.Numerics.Tensors.TensorPrimitives.Max(row);

    [Theory]
    [InlineData(new[] { 784 })]
    [InlineData(new[] { 1, 28, 28 })]
    public void FloatMlpMatchesOnnxRuntime(int[] sampleShape)
    {
        var model = ModelSpec.Parse("mlp:784-64-32-10").Build(7);
        byte[] onnx = OnnxExporter.ToBytes(GraphTracer.Trace(model, sampleShape));
        foreach (int batch in new[] { 5, 1 })
        {
            var x = RandomBatch(batch, sampleShape, 11 + (ulong)batch);
            AssertClose(Ours(model, x).Data, RunOrt(onnx, x), 1e-5f);
        }
    }

    [Fact]
    public void DropoutIsDroppedAndModuleOverloadTraces()
    {
        var model = ModelSpec.Parse("mlp:784-32-10,dropout=0.5").Build(3);
        byte[] onnx = OnnxExporter.ToBytes(model, [784]);
        Assert.DoesNotContain(ModelProto.Parser.ParseFrom(onnx).Graph.Node, n => n.OpType == "Dropout");
        var x = RandomBatch(4, [784], 5);
        AssertClose(Ours(model, x).Data, RunOrt(onnx, x), 1e-5f);
    }

    [Fact]
    public void StaticQuantizedModelMatchesSimulationAndIntegerEngine()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-64-32-10").Build(7), [784]);
        var (quantized, _) = Quantizer.Quantize(new GraphModule(graph), train, new QuantizeOptions { WeightBits = OrtInt8.WeightBits });
        byte[] onnx = OnnxExporter.ToBytes(quantized.Graph);
        Assert.Equal(OnnxExporter.Opset, ModelProto.Parser.ParseFrom(onnx).OpsetImport.Single().Version);

        var x = test.Batch(Enumerable.Range(0, 200).ToArray());
        float[] ort = RunOrt(onnx, x);
        float[] simulated = Ours(quantized, x).Data;
        float[] integer = Ours(IntegerModel.Compile(quantized.Graph), x).Data;
        int[] ortClass = Argmax(ort, 10);
        double agreeSim = ortClass.Zip(Argmax(simulated, 10)).Count(p => p.First == p.Second) / 200.0;
        double agreeInt = ortClass.Zip(Argmax(integer, 10)).Count(p => p.First == p.Second) / 200.0;
        float scale = simulated.Max(MathF.Abs);
        output.WriteLine($"argmax agreement with ORT: simulation {agreeSim:P1}, integer engine {agreeInt:P1}; "
            + $"max |ORT − simulation| / max |logit| = {ort.Zip(simulated).Max(p => MathF.Abs(p.First - p.Second)) / scale:G3}");
        Assert.True(agreeSim >= 0.99, $"simulation agrees on {agreeSim:P1}");
        Assert.True(agreeInt >= 0.99, $"integer engine agrees on {agreeInt:P1}");
    }

    [Fact]
    public void DynamicQuantizedModelRunsInOnnxRuntime()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-64-32-10").Build(7), [784]);
        var (quantized, _) = Quantizer.Quantize(new GraphModule(graph), train,
            new QuantizeOptions { Mode = QuantizationMode.Dynamic, WeightBits = OrtInt8.WeightBits });
        byte[] onnx = OnnxExporter.ToBytes(quantized.Graph);
        Assert.Contains(ModelProto.Parser.ParseFrom(onnx).Graph.Node, n => n.OpType == "DynamicQuantizeLinear");
        var x = test.Batch(Enumerable.Range(0, 200).ToArray());
        int[] ours = Argmax(Ours(quantized, x).Data, 10), ort = Argmax(RunOrt(onnx, x), 10);
        Assert.True(ours.Zip(ort).Count(p => p.First == p.Second) >= 198);
    }

    [Fact]
    public void ReshapeShapeBecomesInt64Initializer()
    {
        var model = ModelSpec.Parse("mlp:784-16-10").Build(1);
        var graph = GraphTracer.Trace(model, [1, 28, 28]).Clone();
        var flatten = graph.Nodes.Single(n => n.OpType == "Flatten");
        graph.Initializers.Add("reshape.shape", new Tensor([0f, -1f], 2));
        graph.Nodes[graph.Nodes.IndexOf(flatten)] = new Node(flatten.Name, "Reshape", [flatten.Inputs[0], "reshape.shape"], flatten.Outputs);
        byte[] onnx = OnnxExporter.ToBytes(graph);
        var shape = ModelProto.Parser.ParseFrom(onnx).Graph.Initializer.Single(t => t.Name == "reshape.shape");
        Assert.Equal((int)TensorProto.Types.DataType.Int64, shape.DataType);
        var x = RandomBatch(3, [1, 28, 28], 9);
        AssertClose(Ours(new GraphModule(graph), x).Data, RunOrt(onnx, x), 1e-5f);
    }

    [Fact]
    public void WeightOnlyInt4ExportsInt4InitializersAtOpset21()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-64-32-10").Build(7), [784]);
        var (quantized, _) = Quantizer.Quantize(new GraphModule(graph), train,
            new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4 });
        byte[] onnx = OnnxExporter.ToBytes(quantized.Graph);
        var proto = ModelProto.Parser.ParseFrom(onnx);
        Assert.Equal(OnnxExporter.Int4Opset, proto.OpsetImport.Single().Version);
        var int4 = proto.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Int4).ToList();
        Assert.NotEmpty(int4);
        foreach (var t in int4)
            Assert.Equal((t.Dims.Aggregate(1L, (a, d) => a * d) + 1) / 2, t.RawData.Length);

        var x = test.Batch(Enumerable.Range(0, 50).ToArray());
        AssertClose(Ours(quantized, x).Data, RunOrt(onnx, x), 1e-4f);
    }

    [Fact]
    public void InitializerNamesAreStateDictNames()
    {
        var model = ModelSpec.Parse("mlp:784-64-32-10").Build(7);
        var proto = ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model, [784]));
        Assert.Equal(model.StateDict().Keys.Order(StringComparer.Ordinal),
            proto.Graph.Initializer.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal("batch", proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimParam);
    }

    [Fact]
    public void ExportIntoMissingFolderThrowsAndLeavesNoFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"condense-onnx-{Guid.NewGuid():N}", "missing");
        string path = Path.Combine(dir, "model.onnx");
        var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-16-10").Build(1), [784]);
        Assert.Throws<CondenseException>(() => OnnxExporter.Export(graph, path));
        Assert.False(File.Exists(path));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void ExportWritesAFileOnnxRuntimeLoads()
    {
        string path = Path.Combine(Path.GetTempPath(), $"condense-{Guid.NewGuid():N}.onnx");
        try
        {
            var model = ModelSpec.Parse("mlp:784-16-10").Build(1);
            OnnxExporter.Export(model, [784], path, producer: "condense-test");
            Assert.Equal("condense-test", ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).ProducerName);
            var x = RandomBatch(3, [784], 2);
            AssertClose(Ours(model, x).Data, RunOrt(File.ReadAllBytes(path), x), 1e-5f);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void UnsupportedOpNamesOpAndNode()
    {
        var graph = GraphTracer.Trace(ModelSpec.Parse("mlp:784-16-10").Build(1), [784]);
        graph.Nodes[^1].OpType = "GridSample";
        var e = Assert.Throws<CondenseException>(() => OnnxExporter.ToBytes(graph));
        Assert.Contains("'GridSample'", e.Message);
        Assert.Contains(graph.Nodes[^1].Name, e.Message);
    }
}
