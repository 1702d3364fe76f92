// MatMulNBits (ONNX Runtime's com.microsoft contrib op, docs/ContribOperators.md) on import: Y = A · dequant(B)ᵀ + bias
// with B [N, K] block-quantized along K. It becomes the QDQ form Quantizer makes for block-wise weight-only layers:
//   DequantizeLinear(W_q [N, K], scales [N, k_blocks], zero_points [N, k_blocks], axis = 1, block_size) → Gemm(A, ·, bias, transB = 1)
// (MatMul(A, Transpose(·)) + Add(bias) when A is not known to be a matrix). B is uint8 [N, k_blocks, blob], codes of
// `bits` bits packed along K, low bits first; zero points are packed the same way (uint8), given as floats, or
// default to 2^(bits−1). Codes and zero points are shifted by −2^(bits−1) into signed integers (int4 for bits ≤ 4,
// else int8): q − z is unchanged, so the dequantized weights are the same. accuracy_level is a speed hint: ignored.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

internal static partial class QOperatorImport
{
    // Ops that keep a matrix a matrix: A is known to be 2-D when a chain of them leads to a 2-D graph input.
    private static readonly HashSet<string> RankPreserving =
        [OpTypes.Relu, OpTypes.LeakyRelu, OpTypes.Sigmoid, OpTypes.Tanh, OpTypes.Identity, OpTypes.Dropout,
            OpTypes.QuantizeLinear, OpTypes.DequantizeLinear, OpTypes.DynamicQuantizeLinear];

    private static List<Node> MatMulNBits(QOperatorRewrite r, Node n)
    {
        r.CheckInputs(n, 3, 6);
        if (r.Optional(n, 4) is not null) throw r.Error(n, "the g_idx input (deprecated) is not supported");
        if (n.Int("weight_prepacked", 0) != 0) throw r.Error(n, "prepacked weights are not supported");
        long k = Required(r, n, "K"), count = Required(r, n, "N"), blockSize = Required(r, n, "block_size"), bits = n.Int("bits", 4);
        if (bits is not (2 or 4 or 8)) throw r.Error(n, $"bits = {bits} is not supported (2, 4 or 8)");
        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0) throw r.Error(n, $"block_size = {blockSize} must be a power of two of at least 16");
        if (k < 1 || count < 1 || k * count > Array.MaxLength) throw r.Error(n, $"K = {k}, N = {count} is not a valid weight shape");
        int rows = (int)count, columns = (int)k, block = (int)blockSize, width = (int)bits;
        int blocks = (columns + block - 1) / block, blob = block * width / 8;
        var packed = r.Constant(n, 1, "B");
        if (packed.Size != (long)rows * blocks * blob)
            throw r.Error(n, $"B has {packed.Size} bytes; N = {rows}, K = {columns}, block_size = {block} need {rows * blocks * blob}");
        var scales = r.Constant(n, 2, "scales");
        if (scales.Size != rows * blocks) throw r.Error(n, $"scales has {scales.Size} values; expected N · k_blocks = {rows * blocks}");

        int offset = 1 << (width - 1);
        var zeros = ZeroPoints(r, n, rows, blocks, width, offset);
        var codes = new float[rows * columns];
        for (int row = 0; row < rows; row++)
            for (int c = 0; c < columns; c++)
                codes[row * columns + c] = Bits(packed.Data, (row * blocks + c / block) * blob, c % block, width);

        var nodes = new List<Node>();
        string weight, name = n.Inputs[1].EndsWith(".nbits", StringComparison.Ordinal) ? n.Inputs[1][..^6] : n.Inputs[1] + ".unpacked";
        if (zeros.All(z => z == MathF.Round(z)))
        {
            var type = width <= 4 ? ElementType.Int4 : ElementType.Int8;
            string q = r.AddInitializer(name, new Tensor(codes.Select(v => v - offset).ToArray(), rows, columns), type);
            string s = r.AddInitializer(q + ".scale", new Tensor((float[])scales.Data.Clone(), rows, blocks), ElementType.Float32);
            string z = r.AddInitializer(q + ".zero_point", new Tensor(zeros.Select(v => v - offset).ToArray(), rows, blocks), type);
            weight = r.Dequantize(nodes, n, "weight", q, s, z, axis: 1, block);
        }
        else
        {
            // Float zero points that are not codes: no integer form, so the weights are dequantized here, (q − z)·scale.
            var values = new float[codes.Length];
            for (int i = 0; i < values.Length; i++)
            {
                int at = i / columns * blocks + i % columns / block;
                values[i] = (codes[i] - zeros[at]) * scales.Data[at];
            }
            weight = r.AddInitializer(name + ".dequantized", new Tensor(values, rows, columns), ElementType.Float32);
        }

        string? bias = r.Optional(n, 5);
        if (IsMatrix(r, n.Inputs[0]))
        {
            var inputs = bias is null ? new List<string> { n.Inputs[0], weight } : [n.Inputs[0], weight, bias];
            r.Layer(nodes, n, OpTypes.Gemm, inputs, new() { ["transB"] = AttributeValue.Int(1) }, null, null);
            return nodes;
        }
        string layer = QOperatorRewrite.LayerName(n, OpTypes.MatMul);
        string transposed = r.Fresh(layer + "/Transpose_output_0"), product = bias is null ? n.Outputs[0] : r.Fresh(layer + "_output_0");
        var perm = new Dictionary<string, AttributeValue> { ["perm"] = AttributeValue.Ints(1, 0) };
        nodes.Add(new Node(layer + "/Transpose", OpTypes.Transpose, [weight], [transposed], perm));
        nodes.Add(new Node(layer, OpTypes.MatMul, [n.Inputs[0], transposed], [product]));
        if (bias is not null) nodes.Add(new Node(layer + "/Add", OpTypes.Add, [product, bias], [n.Outputs[0]]));
        return nodes;
    }

    private static long Required(QOperatorRewrite r, Node n, string attribute) =>
        n.Attributes.ContainsKey(attribute) ? n.Int(attribute, 0) : throw r.Error(n, $"the required attribute '{attribute}' is missing");

    // Code `index` of `width` bits in the bytes from `start`, low bits first (2, 4 and 8 bits never straddle a byte).
    private static int Bits(float[] bytes, int start, int index, int width)
    {
        int bit = index * width;
        return ((int)bytes[start + bit / 8] >> (bit % 8)) & ((1 << width) - 1);
    }

    // One zero point per (row, block): packed uint8 [N, ceil(k_blocks · bits / 8)], floats [N · k_blocks], or the default.
    private static float[] ZeroPoints(QOperatorRewrite r, Node n, int rows, int blocks, int width, int offset)
    {
        var zeros = new float[rows * blocks];
        if (r.Optional(n, 3) is not { } name) { Array.Fill(zeros, offset); return zeros; }
        var z = r.Constant(n, 3, "zero_points");
        if (r.Graph.TypeOf(name) != ElementType.UInt8)
        {
            if (z.Size != zeros.Length) throw r.Error(n, $"zero_points has {z.Size} values; expected N · k_blocks = {zeros.Length}");
            return (float[])z.Data.Clone();
        }
        int stride = (blocks * width + 7) / 8;
        if (z.Size != rows * stride) throw r.Error(n, $"packed zero_points has {z.Size} bytes; expected {rows * stride}");
        for (int row = 0; row < rows; row++)
            for (int b = 0; b < blocks; b++) zeros[row * blocks + b] = Bits(z.Data, row * stride, b, width);
        return zeros;
    }

    // True when `value` is known to be 2-D: a 2-D graph input, or the output of Flatten, Gemm, QGemm or a rank-preserving
    // op (or MatMulNBits) of such a value.
    private static bool IsMatrix(QOperatorRewrite r, string value)
    {
        if (r.Graph.Inputs.FirstOrDefault(i => i.Name == value) is { } input) return input.Shape.Length == 2;
        return r.Producer(value) switch
        {
            { OpType: OpTypes.Flatten or OpTypes.Gemm or OpTypes.QGemm } => true,
            { OpType: OpTypes.MatMulNBits } p => IsMatrix(r, p.Inputs[0]),
            { } p when RankPreserving.Contains(p.OpType) && p.Inputs.Count > 0 => IsMatrix(r, p.Inputs[0]),
            _ => false,
        };
    }
}
