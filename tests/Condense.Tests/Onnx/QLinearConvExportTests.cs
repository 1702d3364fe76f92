// Quantized convolutional networks in ONNX Runtime: a static int8 LeNet-5 exported as QDQ, and as QOperator
// (QLinearConv with int32 bias, uint8 MaxPool/Flatten between layers, QGemm for the Linear layers), run by
// ORT must match our integer engine (IntegerConvModel): every hidden uint8 activation within 1 LSB (ORT
// requantizes with a float scale, the engine with a fixed-point multiplier), the logits within 1e-2 of their
// range and argmax on at least 99% of the images.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public sealed class QLinearConvExportTests(ITestOutputHelper output)
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(Mnist.LoadEmbedded);

    // 7-bit weights where ONNX Runtime's u8 × s8 products saturate (OrtInt8): LeNet-5's hidden codes differed by up to 89 LSB
    // there with 8-bit weights.
    private static GraphModule QuantizedLeNet(ulong seed) =>
        Quantizer.Quantize(new GraphModule(GraphTracer.Trace(ModelSpec.Parse("lenet5").Build(seed), [784])),
            Data.Value.Train, new QuantizeOptions { CalibrationSamples = 256, WeightBits = OrtInt8.WeightBits }).Model;

    private static Tensor TestBatch(int count) => Data.Value.Test.Batch(Enumerable.Range(0, count).ToArray());

    private static float[] RunOrt(ModelGraph graph, Tensor x)
    {
        using var session = new InferenceSession(OnnxExporter.ToBytes(graph));
        var input = new DenseTensor<float>(x.Data.ToArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    [Fact]
    public void QdqLeNet5InOnnxRuntimeMatchesTheIntegerEngine()
    {
        var qdq = QuantizedLeNet(11);
        var x = TestBatch(128);
        var engine = IntegerConvModel.Compile(qdq.Graph);
        AssertParity(qdq.Graph, qdq.Graph, engine, x, "QDQ");
    }

    [Fact]
    public void QLinearConvLeNet5InOnnxRuntimeMatchesTheIntegerEngine()
    {
        var qdq = QuantizedLeNet(12);
        var qop = QOperatorExport.Convert(qdq.Graph);
        Assert.Equal(["Reshape", "QuantizeLinear", "QLinearConv", "MaxPool", "QLinearConv", "MaxPool", "Flatten", "QGemm", "QGemm", "QGemm"],
            qop.Nodes.Select(n => n.OpType));
        Assert.All(qop.Nodes.Where(n => n.OpType == "QLinearConv"), n =>
        {
            Assert.Equal(9, n.Inputs.Count);
            Assert.Equal(Condense.Graph.ElementType.Int32, qop.TypeOf(n.Inputs[8]));   // int32 bias
        });
        AssertParity(qdq.Graph, qop, IntegerConvModel.Compile(qdq.Graph), TestBatch(128), "QOperator");
    }

    private void AssertParity(ModelGraph qdq, ModelGraph exported, IntegerConvModel engine, Tensor x, string what)
    {
        var (logits, activations) = engine.ForwardWithActivations(x);
        int maxLsb = 0, off = 0, total = 0;
        foreach (var (value, ours) in activations)
        {
            var q = qdq.Producer(value)!;   // the QuantizeLinear whose codes these are
            if (exported.Producer(value) is null) continue;
            float scale = qdq.Initializers[q.Inputs[1]].Data[0], zeroPoint = qdq.Initializers[q.Inputs[2]].Data[0];
            var codes = RunOrt(Probe(exported, value, q.Inputs[1], q.Inputs[2], qdq), x);
            Assert.Equal(ours.Length, codes.Length);
            for (int i = 0; i < ours.Length; i++)
            {
                int lsb = (int)MathF.Round(MathF.Abs(codes[i] / scale + zeroPoint - ours[i]));
                maxLsb = Math.Max(maxLsb, lsb);
                off += lsb > 0 ? 1 : 0;
            }
            total += ours.Length;
        }
        Assert.True(total > 0);
        // With 7-bit weights (OrtInt8) a 1-LSB flip of the first layer can move a code of the second by 2 (measured on AVX2).
        Assert.InRange(maxLsb, 0, OrtInt8.Exact ? 1 : 2);
        float[] ort = RunOrt(exported, x);
        float range = logits.Data.Max(MathF.Abs);
        float relative = logits.Data.Zip(ort).Max(p => MathF.Abs(p.First - p.Second)) / range;
        int agree = 0;
        for (int i = 0; i < x.Shape[0]; i++)
        {
            var a = logits.Data.AsSpan(i * 10, 10); var b = ort.AsSpan(i * 10, 10);
            if (a.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(a)) == b.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(b))) agree++;
        }
        output.WriteLine($"{what} LeNet-5 in ORT vs integer engine: hidden max {maxLsb} LSB ({off} of {total} codes differ), "
            + $"logits max relative error {relative:G3}, argmax {agree} of {x.Shape[0]}");
        // A 1-LSB flip in a hidden layer moves the logits by up to s_x·Σ|w| of the next layers: measured ≈ 3e-3 here.
        Assert.True(relative <= 1e-2f, $"max relative error {relative}");
        Assert.True(agree >= 0.99 * x.Shape[0], $"argmax agrees on {agree}");
    }

    // The graph up to the node writing value (uint8 codes in QOperator form, float QuantizeLinear input in QDQ
    // form), dequantized with (scale, zeroPoint) as the output, so ORT's codes can be read.
    private static ModelGraph Probe(ModelGraph graph, string value, string scale, string zeroPoint, ModelGraph qdq)
    {
        var probe = graph.Clone();
        int end = probe.Nodes.FindIndex(n => n.Outputs.Contains(value));
        probe.Nodes.RemoveRange(end + 1, probe.Nodes.Count - end - 1);
        foreach (var name in new[] { scale, zeroPoint })
            if (!probe.Initializers.ContainsKey(name))
            {
                probe.Initializers[name] = qdq.Initializers[name].Clone();
                if (qdq.ElementTypes.TryGetValue(name, out var t)) probe.ElementTypes[name] = t;
            }
        probe.Nodes.Add(new Node("probe/DequantizeLinear", "DequantizeLinear", [value, scale, zeroPoint], ["probe"]));
        probe.Outputs.Clear();
        probe.Outputs.Add(new ValueInfo("probe", [-1]));
        return probe;
    }
}
