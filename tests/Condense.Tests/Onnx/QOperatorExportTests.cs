// QOperator and MatMulNBits export against ONNX Runtime: static int8 (per channel and per tensor, a seeded
// MLP and PyTorch's mlp128 fixture) run by ORT's QGemm must match our integer engine; dynamic int8 run by
// ORT's MatMulInteger chain must match our float simulation; block-wise int4 run by ORT's MatMulNBits must
// match our model with the dequantized int4 weights. Each also checks the operators written and that no
// float weight is left.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Xunit.Abstractions;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class QOperatorExportTests(ITestOutputHelper output)
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(Mnist.LoadEmbedded);
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    private static ModelGraph SeededMlp() => GraphTracer.Trace(ModelSpec.Parse("mlp:784-64-32-10").Build(7), [784]);

    private static GraphModule Quantize(ModelGraph graph, QuantizeOptions options) =>
        Quantizer.Quantize(new GraphModule(graph), Data.Value.Train, options with { CalibrationSamples = 256 }).Model;

    private static float[] RunOrt(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        var input = new DenseTensor<float>(x.Data.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    private static float[] Ours(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x).Data;
    }

    // max |a − b| / max |b|: the error relative to the output's scale.
    private static float RelativeError(float[] reference, float[] actual)
    {
        Assert.Equal(reference.Length, actual.Length);
        float scale = Math.Max(1e-6f, reference.Max(MathF.Abs));
        return reference.Zip(actual).Max(p => MathF.Abs(p.First - p.Second)) / scale;
    }

    private static Tensor TestBatch(int count) => Data.Value.Test.Batch(Enumerable.Range(0, count).ToArray());

    // No float matrix is left: every rank-2+ initializer is an integer tensor.
    private static void AssertNoFloatWeights(ModelProto proto)
    {
        foreach (var t in proto.Graph.Initializer.Where(t => t.Dims.Count >= 2))
            Assert.NotEqual((int)TensorProto.Types.DataType.Float, t.DataType);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void StaticQGemmMatchesIntegerEngine(bool perChannel)
    {
        var quantized = Quantize(SeededMlp(), new QuantizeOptions { PerChannel = perChannel, WeightBits = OrtInt8.WeightBits });
        AssertStaticParity(quantized.Graph, TestBatch(256), $"mlp 784-64-32-10, {(perChannel ? "per channel" : "per tensor")}");
    }

    [Fact]
    public void StaticQGemmMatchesIntegerEngineOnPyTorchFixture()
    {
        var quantized = Quantize(OnnxImporter.Import(Fixture("mlp128.onnx")), new QuantizeOptions { WeightBits = OrtInt8.WeightBits });
        AssertStaticParity(quantized.Graph, TestBatch(256), "mlp128.onnx");
    }

    private void AssertStaticParity(ModelGraph qdq, Tensor x, string what)
    {
        var qop = QOperatorExport.Convert(qdq);
        var proto = OnnxExporter.ToModel(qop);
        // Q at the input, one QGemm per layer (ReLUs fused into the requantization), nothing else.
        Assert.Equal(["QuantizeLinear", .. Enumerable.Repeat("QGemm", qdq.Nodes.Count(n => n.OpType == "Gemm"))],
            proto.Graph.Node.Where(n => n.OpType is not ("Flatten" or "Identity")).Select(n => n.OpType));
        Assert.All(proto.Graph.Node.Where(n => n.OpType == "QGemm"), n => Assert.Equal(QOperatorExport.MicrosoftDomain, n.Domain));
        Assert.Contains(proto.OpsetImport, o => o.Domain == QOperatorExport.MicrosoftDomain);
        AssertNoFloatWeights(proto);
        Assert.Contains(proto.Graph.Initializer, t => t.DataType == (int)TensorProto.Types.DataType.Int32);   // int32 biases

        // Every hidden layer's uint8 output: ORT's QGemm (float requantization scale) within 1 LSB of the
        // engine's (fixed-point multiplier); they differ only where a value sits on a rounding boundary.
        var engine = IntegerModel.Compile(qdq);
        engine.Eval();
        var (logits, activations) = engine.ForwardWithActivations(x);
        var qgemms = qop.Nodes.Where(n => n.OpType == "QGemm").ToList();
        int maxLsb = 0, off = 0, total = 0;
        for (int l = 0; l < qgemms.Count - 1; l++)
        {
            float scale = qop.Initializers[qgemms[l].Inputs[7]].Data[0], zeroPoint = qop.Initializers[qgemms[l].Inputs[8]].Data[0];
            float[] ortLayer = RunOrt(OnnxExporter.ToBytes(Probe(qop, qgemms[l])), x);
            var ours = activations[l + 1];
            Assert.Equal(ours.Length, ortLayer.Length);
            for (int i = 0; i < ours.Length; i++)
            {
                int lsb = (int)MathF.Round(MathF.Abs(ortLayer[i] / scale + zeroPoint - ours[i]));
                maxLsb = Math.Max(maxLsb, lsb);
                off += lsb > 0 ? 1 : 0;
            }
            total += ours.Length;
        }
        Assert.InRange(maxLsb, 0, 1);

        // The float output (acc · s_x·s_w of the last QGemm): close, given inputs that may differ by that 1 LSB.
        float[] ort = RunOrt(proto.ToByteArray(), x);
        float relative = RelativeError(logits.Data, ort);
        int classes = qdq.Outputs[0].Shape[^1];
        double agree = Argmax(logits.Data, classes).Zip(Argmax(ort, classes)).Count(p => p.First == p.Second) / (double)x.Shape[0];
        output.WriteLine($"{what}: ORT QGemm vs integer engine, hidden layers max {maxLsb} LSB ({off} of {total} values differ), "
            + $"output max relative error {relative:G3}, argmax agreement {agree:P1}");
        Assert.True(relative <= 2e-3f, $"max relative error {relative}");
        Assert.True(agree >= 0.99, $"argmax agreement {agree:P1}");
    }

    // The graph up to a hidden QGemm, its uint8 output dequantized as the graph output (to read it from ORT).
    private static ModelGraph Probe(ModelGraph qop, Node qgemm)
    {
        var probe = qop.Clone();
        int end = qop.Nodes.IndexOf(qgemm);
        probe.Nodes.RemoveRange(end + 1, probe.Nodes.Count - end - 1);
        probe.Nodes.Add(new Node("probe/DequantizeLinear", "DequantizeLinear", [qgemm.Outputs[0], qgemm.Inputs[7], qgemm.Inputs[8]], ["probe"]));
        probe.Outputs.Clear();
        probe.Outputs.Add(new ValueInfo("probe", [-1, qop.Initializers[qgemm.Inputs[3]].Shape[0]]));
        return probe;
    }

    [Fact]
    public void ReluBeforeANonzeroZeroPointStaysInFloat()
    {
        // A ReLU is fused into QGemm only when the next input's zero point is 0; give layer 2 a zero point of 10.
        var quantized = Quantize(SeededMlp(), new QuantizeOptions { WeightBits = OrtInt8.WeightBits });
        var second = quantized.Graph.Nodes.Where(n => n.OpType == "Gemm").ElementAt(1);
        quantized.Graph.Initializers[second.Name + ".input_zero_point"].Data[0] = 10f;
        var qop = QOperatorExport.Convert(quantized.Graph);
        var ops = qop.Nodes.Select(n => n.OpType).ToList();
        Assert.Equal(["QuantizeLinear", "QGemm", "Relu", "QuantizeLinear", "QGemm", "QGemm"], ops.Where(o => o is not ("Flatten" or "Identity")));
        var x = TestBatch(128);
        var engine = IntegerModel.Compile(quantized.Graph);
        Assert.True(RelativeError(Ours(engine, x), RunOrt(OnnxExporter.ToBytes(qop), x)) <= 2e-3f);
    }

    [Fact]
    public void DynamicMatMulIntegerMatchesSimulation()
    {
        var quantized = Quantize(SeededMlp(), new QuantizeOptions { Mode = QuantizationMode.Dynamic, WeightBits = OrtInt8.WeightBits });
        var proto = OnnxExporter.ToModel(QOperatorExport.Convert(quantized.Graph));
        var ops = proto.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(3, ops.Count(o => o == "DynamicQuantizeLinear"));
        Assert.Equal(3, ops.Count(o => o == "MatMulInteger"));
        Assert.DoesNotContain("DequantizeLinear", ops);
        Assert.DoesNotContain("Gemm", ops);
        AssertNoFloatWeights(proto);

        var x = TestBatch(256);
        float relative = RelativeError(Ours(quantized, x), RunOrt(proto.ToByteArray(), x));
        output.WriteLine($"dynamic: ORT MatMulInteger vs float simulation, max relative error {relative:G3}");
        Assert.True(relative <= 1e-3f, $"max relative error {relative}");
    }

    [Fact]
    public void FloatLayersPassThroughUnchanged()
    {
        var graph = SeededMlp();
        string last = graph.Nodes.Last(n => n.OpType == "Gemm").Inputs[1];
        var quantized = Quantize(graph, new QuantizeOptions { Exclude = [last], WeightBits = OrtInt8.WeightBits });
        var qop = QOperatorExport.Convert(quantized.Graph);
        Assert.Equal(2, qop.Nodes.Count(n => n.OpType == "QGemm"));
        Assert.Single(qop.Nodes, n => n.OpType == "Gemm");
        Assert.Equal(ElementType.Float32, qop.TypeOf(last));
        var x = TestBatch(64);
        // The last QGemm requantizes for a DequantizeLinear in front of the float Gemm: ORT ≈ simulation.
        Assert.True(RelativeError(Ours(quantized, x), RunOrt(OnnxExporter.ToBytes(qop), x)) <= 1e-2f);
    }

    [Fact]
    public void WeightOnlyAndInt4LayersAreRefusedInOneLine()
    {
        var weightOnly = Quantize(SeededMlp(), new QuantizeOptions { Mode = QuantizationMode.WeightOnly });
        var e = Assert.Throws<CondenseException>(() => QOperatorExport.Convert(weightOnly.Graph));
        Assert.Contains("weight", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var int4 = Quantize(SeededMlp(), new QuantizeOptions { WeightBits = 4 });
        Assert.Contains("int8", Assert.Throws<CondenseException>(() => QOperatorExport.Convert(int4.Graph)).Message);
        var static8 = Quantize(SeededMlp(), new QuantizeOptions { WeightBits = OrtInt8.WeightBits });
        Assert.Contains("weight-only", Assert.Throws<CondenseException>(() => MatMulNBitsExport.Convert(static8.Graph)).Message);
        Assert.Contains("no quantized layer", Assert.Throws<CondenseException>(() => QOperatorExport.Convert(SeededMlp())).Message);
    }

    [Fact]
    public void ImportingAnUnreadComMicrosoftOpNamesTheOp()
    {
        // QGemm reads back (QuantizedRoundTripTests); another contrib op of the same domain is refused by name.
        var proto = OnnxExporter.ToModel(QOperatorExport.Convert(Quantize(SeededMlp(), new QuantizeOptions { WeightBits = OrtInt8.WeightBits }).Graph));
        proto.Graph.Node.First(n => n.OpType == "QGemm").OpType = "QLinearAdd";
        string path = Path.Combine(Path.GetTempPath(), $"condense-qop-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, proto.ToByteArray());
            var e = Assert.ThrowsAny<CondenseException>(() => OnnxImporter.Import(path));
            Assert.Contains("QLinearAdd", e.Message);
            Assert.DoesNotContain("transformer optimizer", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            // The transformer optimizer's fusions are named as its work, and the way out is said.
            proto.Graph.Node.First(n => n.OpType == "QLinearAdd").OpType = "MultiHeadAttention";
            File.WriteAllBytes(path, proto.ToByteArray());
            var fused = Assert.ThrowsAny<CondenseException>(() => OnnxImporter.Import(path));
            Assert.Contains("its ops here: MultiHeadAttention", fused.Message);
            Assert.Contains("ONNX Runtime's transformer optimizer writes these", fused.Message);
            Assert.DoesNotContain('\n', fused.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(32)]
    [InlineData(null)]   // per row: the row's scale repeated over 256-wide blocks
    public void MatMulNBitsMatchesDequantizedInt4Model(int? blockSize)
    {
        var quantized = Quantize(SeededMlp(), new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = blockSize });
        var proto = OnnxExporter.ToModel(MatMulNBitsExport.Convert(quantized.Graph));
        var nbits = proto.Graph.Node.Where(n => n.OpType == "MatMulNBits").ToList();
        Assert.Equal(3, nbits.Count);
        Assert.All(nbits, n => Assert.Equal(QOperatorExport.MicrosoftDomain, n.Domain));
        var first = nbits[0];
        long k = first.Attribute.Single(a => a.Name == "K").I, bs = first.Attribute.Single(a => a.Name == "block_size").I;
        Assert.Equal(784, k);
        Assert.Equal(blockSize ?? MatMulNBitsExport.MaxBlockSize, bs);
        var b = proto.Graph.Initializer.Single(t => t.Name == first.Input[1]);
        Assert.Equal([64L, (784 + bs - 1) / bs, bs / 2], b.Dims);
        Assert.Equal((int)TensorProto.Types.DataType.Uint8, b.DataType);
        AssertNoFloatWeights(proto);

        var x = TestBatch(128);
        float relative = RelativeError(Ours(quantized, x), RunOrt(proto.ToByteArray(), x));
        output.WriteLine($"MatMulNBits (block {bs}) vs the dequantized int4 model: max relative error {relative:G3}");
        Assert.True(relative <= 1e-4f, $"max relative error {relative}");
    }

    [Fact]
    public void MatMulNBitsFileIsSmallerThanInt8AndBlockedQdqRunsInOrt()
    {
        var int8 = Quantize(SeededMlp(), new QuantizeOptions { Mode = QuantizationMode.WeightOnly });
        var int4 = Quantize(SeededMlp(), new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 32 });
        long int8Bytes = OnnxExporter.ToBytes(int8.Graph).Length, nbitsBytes = OnnxExporter.ToBytes(MatMulNBitsExport.Convert(int4.Graph)).Length;
        output.WriteLine($"file bytes: int8 QDQ {int8Bytes}, int4 MatMulNBits (block 32) {nbitsBytes}");
        Assert.True(nbitsBytes < 0.7 * int8Bytes, $"{nbitsBytes} vs {int8Bytes}");

        // The same block-wise weights as QDQ: ONNX's blocked DequantizeLinear (opset 21), also run by ORT.
        byte[] qdq = OnnxExporter.ToBytes(int4.Graph);
        Assert.Contains(ModelProto.Parser.ParseFrom(qdq).Graph.Node, n => n.OpType == "DequantizeLinear" && n.Attribute.Any(a => a.Name == "block_size"));
        var x = TestBatch(64);
        Assert.True(RelativeError(Ours(int4, x), RunOrt(qdq, x)) <= 1e-5f);
    }

    [Fact]
    public void BlockwiseQuantizerMatchesNaiveBlocks()
    {
        var rng = new Rng(3);
        var w = Tensor.Zeros(5, 70);
        for (int i = 0; i < w.Size; i++) w.Data[i] = (rng.NextFloat() - 0.5f) * (i % 70 < 32 ? 0.1f : 2f);
        var (q, scales) = BlockwiseQuantizer.Quantize(w, 32, QuantRange.Restricted(4));
        Assert.Equal([5, 3], scales.Shape);
        for (int r = 0; r < 5; r++)
            for (int b = 0; b < 3; b++)
            {
                var block = Enumerable.Range(b * 32, Math.Min(32, 70 - b * 32)).Select(c => r * 70 + c).ToList();
                float s = block.Max(i => MathF.Abs(w.Data[i])) / 7f;
                Assert.Equal(s, scales.Data[r * 3 + b], 6);
                Assert.Equal(7f, block.Max(i => MathF.Abs(q.Data[i])));
                foreach (int i in block) Assert.True(MathF.Abs(q.Data[i] * s - w.Data[i]) <= s / 2 + 1e-6f);
            }
        // The blocked DequantizeLinear op gives back q · s block by block.
        var dq = q.DequantizeLinearBlocked(scales, null, 1, 32);
        for (int i = 0; i < w.Size; i++) Assert.Equal(q.Data[i] * scales.Data[i / 70 * 3 + i % 70 / 32], dq.Data[i]);
    }

    private static int[] Argmax(float[] logits, int classes) =>
        Enumerable.Range(0, logits.Length / classes).Select(r =>
        {
            var row = logits.AsSpan(r * classes, classes);
            return row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row));
        }).ToArray();
}
