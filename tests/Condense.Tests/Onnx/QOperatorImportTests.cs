// The QOperator importer in the general case, not only what Condense writes, with ONNX Runtime running the same
// hand-built file as the oracle: QGemm with transA, alpha, per-tensor scales, quantized output and no C; MatMulNBits with
// packed zero points, a bias, K not a multiple of the block and a 3-D input; QLinearMatMul; MatMulInteger and
// ConvInteger beyond 2^24 (exact); INT4 and UINT4 initializers.
using Condense.Autograd;
using Condense.Onnx;
using Google.Protobuf;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public class QOperatorImportTests
{
    private const int UInt8 = 2, Int8 = 3, Int32 = 6, UInt4 = 21, Int4 = 22;

    private static TensorProto Raw(string name, int type, byte[] raw, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static TensorProto Ints32(string name, int[] values, params long[] dims) =>
        Raw(name, Int32, values.SelectMany(BitConverter.GetBytes).ToArray(), dims);

    private static AttributeProto FloatAttribute(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static NodeProto Microsoft(NodeProto node)
    {
        node.Domain = QOperatorExport.MicrosoftDomain;
        return node;
    }

    // Condense (the imported graph, run by GraphModule) and ONNX Runtime on the same input; the largest difference.
    /// <summary>
    /// The largest |ours − expected| on x, expected being ONNX Runtime's output, or <paramref name="exact"/> when given (then
    /// ONNX Runtime must give it too where its int8 products are exact: OrtInt8).
    /// </summary>
    private static float MaxDifference(ModelProto model, Tensor x, int opset = 13, float[]? exact = null)
    {
        model.OpsetImport[0].Version = opset;
        model.IrVersion = opset >= 21 ? 10 : 8;
        if (model.Graph.Node.Any(n => n.Domain == QOperatorExport.MicrosoftDomain))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = QOperatorExport.MicrosoftDomain, Version = 1 });
        var expected = RunOrt(model, x.Data, x.Shape);
        if (exact is not null)
        {
            if (OrtInt8.Exact) Assert.Equal(exact, expected);
            expected = exact;
        }
        string path = Save(model, "qop-import");
        try
        {
            var module = OnnxImporter.Load(path);
            module.Eval();
            float[] actual;
            using (GradMode.NoGrad()) actual = module.Forward(x).Data;
            Assert.Equal(expected.Length, actual.Length);
            return expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        }
        finally { File.Delete(path); }
    }

    private static Tensor Input(ulong seed, params int[] shape) => Tensor.Uniform(new Condense.Tensors.Rng(seed), -1f, 1f, shape);

    private static byte[] Bytes(ulong seed, int count, int max)
    {
        var rng = new Condense.Tensors.Rng(seed);
        return Enumerable.Range(0, count).Select(_ => (byte)(rng.NextDouble() * (max + 1))).ToArray();
    }

    [Theory]
    [InlineData(true, false)]   // uint8 output, no C
    [InlineData(false, true)]   // float output, with C
    public void QGemmInItsGeneralFormMatchesOnnxRuntime(bool quantizedOutput, bool withC)
    {
        // x is (K = 6, M = 5) read transposed; B (K, N = 4) int8 per tensor with zero point 3; Y = 0.5 · Aᵀ B (+ C).
        var inits = new List<TensorProto>
        {
            Floats("xs", [0.01f]), Raw("xz", UInt8, [128]),
            Raw("b", Int8, Bytes(3, 24, 255), 6, 4), Floats("bs", [0.02f]), Raw("bz", Int8, [3]),
            Ints32("c", [100, -250, 7, 40], 4), Floats("ys", [0.003f]), Raw("yz", UInt8, [131]),
        };
        var inputs = new List<string> { "xq", "xs", "xz", "b", "bs", "bz", withC ? "c" : "" };
        if (quantizedOutput) inputs.AddRange(["ys", "yz"]);
        var nodes = new List<NodeProto>
        {
            Node("QuantizeLinear", ["x", "xs", "xz"], "xq"),
            Microsoft(Node("QGemm", [.. inputs], quantizedOutput ? "yq" : "y", Int("transA", 1), FloatAttribute("alpha", 0.5f))),
        };
        if (quantizedOutput) nodes.Add(Node("DequantizeLinear", ["yq", "ys", "yz"], "y"));
        var model = Model(nodes, Value("x", 6, 5), Value("y", 5, 4), inits);
        float difference = MaxDifference(model, Input(1, 6, 5));
        // ORT requantizes with its own rounding: at most one output step apart.
        Assert.True(difference <= (quantizedOutput ? 0.003f + 1e-6f : 1e-5f), $"differs by {difference}");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void MatMulNBitsWithZeroPointsBiasAndA3dInputMatchesOnnxRuntime(int bits)
    {
        const int K = 40, N = 3, Block = 16, Blocks = 3;   // K is not a multiple of the block
        int zeroPointBytes = (Blocks * bits + 7) / 8;      // packed like B: ceil(k_blocks · bits / 8) bytes a row
        var inits = new[]
        {
            Raw("w", UInt8, Bytes(5, N * Blocks * Block * bits / 8, 255), N, Blocks, Block * bits / 8),
            Floats("s", Enumerable.Range(1, N * Blocks).Select(i => 0.01f * i).ToArray(), N * Blocks),
            Raw("z", UInt8, Bytes(6, N * zeroPointBytes, 255), N * zeroPointBytes),
            Floats("bias", [0.5f, -1f, 2f], N),
        };
        var node = Microsoft(Node("MatMulNBits", ["x", "w", "s", "z", "", "bias"], "y",
            Int("K", K), Int("N", N), Int("bits", bits), Int("block_size", Block)));
        var model = Model([node], Value("x", 2, 3, K), Value("y", 2, 3, N), inits);
        float difference = MaxDifference(model, Input(2, 2, 3, K));
        Assert.True(difference <= 1e-4f, $"differs by {difference}");
    }

    [Fact]
    public void QLinearMatMulMatchesOnnxRuntime()
    {
        var inits = new[]
        {
            Floats("xs", [0.01f]), Raw("xz", UInt8, [120]), Raw("b", UInt8, Bytes(7, 12, 255), 4, 3),
            Floats("bs", [0.02f]), Raw("bz", UInt8, [128]), Floats("ys", [0.01f]), Raw("yz", UInt8, [100]),
        };
        var nodes = new[]
        {
            Node("QuantizeLinear", ["x", "xs", "xz"], "xq"),
            Node("QLinearMatMul", ["xq", "xs", "xz", "b", "bs", "bz", "ys", "yz"], "yq"),
            Node("DequantizeLinear", ["yq", "ys", "yz"], "y"),
        };
        float difference = MaxDifference(Model(nodes, Value("x", 5, 4), Value("y", 5, 3), inits), Input(3, 5, 4));
        Assert.True(difference <= 0.01f + 1e-6f, $"differs by {difference}");   // one output step at most
    }

    [Fact]
    public void MatMulIntegerAndConvIntegerAreExactBeyondTwoToTheTwentyFour()
    {
        // 600 products of 255 · (−128 − 2) sum to −19.9 M, past float32's exact integers: computed in int64, rounded once.
        var matmul = new[]
        {
            Node("Cast", ["x"], "xq", Int("to", UInt8)),
            Node("MatMulInteger", ["xq", "b", "", "bz"], "acc"),
            Node("Cast", ["acc"], "y", Int("to", 1)),
        };
        var b = Raw("b", Int8, Enumerable.Repeat((byte)0x80, 600 * 2).ToArray(), 600, 2);
        var x = new Tensor(Enumerable.Range(0, 1200).Select(i => i % 3 == 0 ? 254f : 255f).ToArray(), 2, 600);
        // Every column sums x's row times (−128 − 2); the oracle in double, exact here, rounded to float once as the Cast does.
        var sums = Enumerable.Range(0, 4).Select(i => (float)Enumerable.Range(0, 600).Sum(k => (double)x.Data[i / 2 * 600 + k] * -130)).ToArray();
        Assert.Equal(0f, MaxDifference(Model(matmul, Value("x", 2, 600), Value("y", 2, 2), [b, Raw("bz", Int8, [2])]), x, exact: sums));

        // 64 channels of 3 × 3 taps of 255 · 127: 18.7 M, summed in channel groups under 2^24.
        var conv = new[]
        {
            Node("Cast", ["x"], "xq", Int("to", UInt8)),
            Node("ConvInteger", ["xq", "w", "xz"], "acc", Ints("pads", 1, 1, 1, 1)),
            Node("Cast", ["acc"], "y", Int("to", 1)),
        };
        var w = Raw("w", Int8, Enumerable.Range(0, 2 * 64 * 9).Select(i => (byte)(i % 5 == 0 ? 0x81 : 0x7F)).ToArray(), 2, 64, 3, 3);
        var image = new Tensor(Enumerable.Range(0, 64 * 16).Select(i => i % 7 == 0 ? 1f : 255f).ToArray(), 1, 64, 4, 4);
        var weights = w.RawData.Select(v => (double)(sbyte)v).ToArray();
        var convolved = new float[2 * 16];
        for (int m = 0; m < 2; m++)
            for (int oy = 0; oy < 4; oy++)
                for (int ox = 0; ox < 4; ox++)
                {
                    double sum = 0;
                    for (int c = 0; c < 64; c++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++)
                            {
                                int iy = oy + kh - 1, ix = ox + kw - 1;
                                if (iy is >= 0 and < 4 && ix is >= 0 and < 4)
                                    sum += image.Data[(c * 4 + iy) * 4 + ix] * weights[((m * 64 + c) * 3 + kh) * 3 + kw];
                            }
                    convolved[(m * 4 + oy) * 4 + ox] = (float)sum;
                }
        Assert.Equal(0f, MaxDifference(Model(conv, Value("x", 1, 64, 4, 4), Value("y", 1, 2, 4, 4), [w, Raw("xz", UInt8, [0])]), image,
            exact: convolved));
    }

    [Fact]
    public void Int4AndUInt4InitializersMatchOnnxRuntime()
    {
        // An odd count of int4 values (the last high nibble unused) and a uint4 Q → DQ pair that saturates at 15.
        var inits = new[]
        {
            Raw("w", Int4, [0x8F, 0x71, 0x0A], 5), Floats("ws", [0.5f]), Raw("wz", Int4, [0x01]),
            Floats("s", [0.1f]), Raw("z", UInt4, [0x03]),
        };
        var nodes = new[]
        {
            Node("DequantizeLinear", ["w", "ws", "wz"], "wf"),
            Node("QuantizeLinear", ["x", "s", "z"], "q"),
            Node("DequantizeLinear", ["q", "s", "z"], "xf"),
            Node("Add", ["xf", "wf"], "y"),
        };
        var x = new Tensor([-2f, 0.05f, 0.44f, 1.5f, 0.3f], 5);
        Assert.Equal(0f, MaxDifference(Model(nodes, Value("x", 5), Value("y", 5), inits), x, opset: 21));
    }
}
