// QDQ → MatMulNBits: 4-bit weight-only layers written as ONNX Runtime's com.microsoft MatMulNBits contrib op
// (onnxruntime/docs/ContribOperators.md): Y = A · dequant(B)ᵀ, with B block-quantized along K:
//   B       uint8 [N, k_blocks, block_size/2]  two 4-bit codes a byte, low nibble first, along K
//   scales  float [N · k_blocks]               one per (row n, block)
//   zero_points omitted                         → 2^(bits−1) = 8, so a code is q + 8 for our symmetric q ∈ [−7, 7]
// with k_blocks = ceil(K / block_size). A Linear Gemm's weight W (transB = 1) is already [N = out, K = in],
// row n's block j holding W[n, j·bs … j·bs + bs − 1]: the layout maps over directly, no transpose. A weight
// quantized per row (or per tensor) repeats the row's scale over its blocks.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

/// <summary>Converts 4-bit weight-only QDQ graphs to ONNX Runtime's MatMulNBits.</summary>
public static class MatMulNBitsExport
{
    private const int Bits = 4;
    private const int ZeroPoint = 1 << (Bits - 1);

    /// <summary>The smallest block size ONNX Runtime's CPU MatMulNBits kernel accepts.</summary>
    public const int MinBlockSize = 16;
    /// <summary>The largest block size ONNX Runtime's CPU MatMulNBits kernel accepts (1.31: 16, 32, 64, 128, 256).</summary>
    public const int MaxBlockSize = 256;

    private static readonly Dictionary<string, Func<QdqGraphRewrite, Node, List<Node>?>> Rewriters = new()
    {
        [OpTypes.Gemm] = RewriteGemm,
        [OpTypes.MatMul] = RewriteMatMul,
    };

    /// <summary>
    /// The MatMulNBits form of <paramref name="qdq"/> (not changed): every 4-bit weight-only Linear becomes
    /// MatMulNBits (+ Add for the bias); float layers pass through. One-line error for other quantized layers.
    /// </summary>
    public static ModelGraph Convert(ModelGraph qdq)
    {
        ArgumentNullException.ThrowIfNull(qdq);
        return QdqGraphRewrite.Apply(qdq, "MatMulNBits export", Rewriters);
    }

    private static List<Node>? RewriteGemm(QdqGraphRewrite r, Node gemm)
    {
        var weight = r.QuantizedWeight(gemm);
        if (weight is null) return null;
        if (r.Graph.Producer(gemm.Inputs[0]) is { OpType: OpTypes.DequantizeLinear })
            throw r.Error($"layer '{gemm.Name}' quantizes its input too; MatMulNBits takes weight-only layers (quantize in weight-only mode)");
        r.CheckLinear(gemm);
        var w = r.Graph.Initializers[weight.Inputs[0]];
        if (w.Data.Any(v => v < -8 || v > 7))
            throw r.Error($"layer '{gemm.Name}' has weights beyond 4 bits; MatMulNBits takes 4-bit weights (quantize with 4 weight bits)");
        if (weight.Inputs.Count > 2 && weight.Inputs[2].Length > 0 && r.Graph.Initializers[weight.Inputs[2]].Data.Any(v => v != 0f))
            throw r.Error($"layer '{gemm.Name}' has nonzero weight zero points; MatMulNBits export takes symmetric weights");
        int n = w.Shape[0], k = w.Shape[1];
        int blockSize = (int)weight.Int("block_size", 0);
        var scales = blockSize > 0 ? BlockScales(r, weight, n, k, blockSize) : RowScales(r, weight, n, k, out blockSize);

        string g = gemm.Name, name = weight.Inputs[0];
        var packed = Pack(w, blockSize);
        string b = r.AddInitializer(name + ".nbits", packed, ElementType.UInt8);
        string s = r.AddInitializer(name + ".nbits_scale", new Tensor(scales, [scales.Length]), ElementType.Float32);
        var attributes = new Dictionary<string, AttributeValue>
        {
            ["K"] = AttributeValue.Int(k), ["N"] = AttributeValue.Int(n),
            ["bits"] = AttributeValue.Int(Bits), ["block_size"] = AttributeValue.Int(blockSize),
        };
        bool hasBias = gemm.Inputs.Count > 2 && gemm.Inputs[2].Length > 0;
        string product = hasBias ? g + "/MatMulNBits_output_0" : gemm.Outputs[0];
        var nodes = new List<Node> { new(g + "/MatMulNBits", OpTypes.MatMulNBits, [gemm.Inputs[0], b, s], [product], attributes) };
        if (hasBias) nodes.Add(new Node(g + "/Add", OpTypes.Add, [product, gemm.Inputs[2]], [gemm.Outputs[0]]));
        return nodes;
    }

    // A MatMul by a weight W [K, N] (as exporters write nn.Linear): blocked along K (DequantizeLinear axis 0, scales
    // [k_blocks, N]) or per column (axis 1, scales [N]); MatMulNBits stores the transpose, [N, K], and the scales [N, k_blocks].
    private static List<Node>? RewriteMatMul(QdqGraphRewrite r, Node matmul)
    {
        var weight = r.QuantizedWeight(matmul);
        if (weight is null) return null;
        if (r.Graph.Producer(matmul.Inputs[0]) is { OpType: OpTypes.DequantizeLinear })
            throw r.Error($"layer '{matmul.Name}' quantizes its input too; MatMulNBits takes weight-only layers (quantize in weight-only mode)");
        var w = r.Graph.Initializers[weight.Inputs[0]];
        if (w.Rank != 2) throw r.Error($"layer '{matmul.Name}' has a weight of rank {w.Rank}; MatMulNBits takes [K, N]");
        if (w.Data.Any(v => v < -8 || v > 7))
            throw r.Error($"layer '{matmul.Name}' has weights beyond 4 bits; MatMulNBits takes 4-bit weights (quantize with 4 weight bits)");
        if (weight.Inputs.Count > 2 && weight.Inputs[2].Length > 0 && r.Graph.Initializers[weight.Inputs[2]].Data.Any(v => v != 0f))
            throw r.Error($"layer '{matmul.Name}' has nonzero weight zero points; MatMulNBits export takes symmetric weights");
        int k = w.Shape[0], n = w.Shape[1];
        int blockSize = (int)weight.Int("block_size", 0);
        var scale = r.Graph.Initializers[weight.Inputs[1]];
        float[] scales;
        if (blockSize > 0)
        {
            int blocks = (k + blockSize - 1) / blockSize;
            if (weight.Int("axis", 1) != 0 || scale.Size != n * blocks)
                throw r.Error($"'{weight.Name}' has {scale.Size} block scales; expected [{blocks}, {n}] along the input axis");
            if (blockSize < MinBlockSize || blockSize > MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
                throw r.Error($"'{weight.Name}' has block size {blockSize}; ONNX Runtime's MatMulNBits takes 16, 32, 64, 128 or 256");
            scales = scale.Transpose().Data;
        }
        else
        {
            blockSize = MinBlockSize;
            while (blockSize < k && blockSize < MaxBlockSize) blockSize *= 2;
            int blocks = (k + blockSize - 1) / blockSize;
            if (scale.Size != 1 && (scale.Size != n || weight.Int("axis", 1) != 1))
                throw r.Error($"'{weight.Name}' has {scale.Size} weight scales; expected one per tensor, per output column or per block");
            scales = new float[n * blocks];
            for (int i = 0; i < scales.Length; i++) scales[i] = scale.Data[scale.Size == 1 ? 0 : i / blocks];
        }
        string name = weight.Inputs[0];
        string b = r.AddInitializer(name + ".nbits", Pack(w.Transpose(), blockSize), ElementType.UInt8);
        string s = r.AddInitializer(name + ".nbits_scale", new Tensor(scales, [scales.Length]), ElementType.Float32);
        var attributes = new Dictionary<string, AttributeValue>
        {
            ["K"] = AttributeValue.Int(k), ["N"] = AttributeValue.Int(n),
            ["bits"] = AttributeValue.Int(Bits), ["block_size"] = AttributeValue.Int(blockSize),
        };
        return [new(matmul.Name + "/MatMulNBits", OpTypes.MatMulNBits, [matmul.Inputs[0], b, s], [matmul.Outputs[0]], attributes)];
    }

    // Blocked DequantizeLinear (axis 1): scales [N, k_blocks] flatten row-major to MatMulNBits' [N · k_blocks].
    private static float[] BlockScales(QdqGraphRewrite r, Node dq, int n, int k, int blockSize)
    {
        var scale = r.Graph.Initializers[dq.Inputs[1]];
        int blocks = (k + blockSize - 1) / blockSize;
        if (dq.Int("axis", 1) != 1 || scale.Size != n * blocks)
            throw r.Error($"'{dq.Name}' has {scale.Size} block scales; expected [{n}, {blocks}] along the input axis");
        if (blockSize < MinBlockSize || blockSize > MaxBlockSize || (blockSize & (blockSize - 1)) != 0)
            throw r.Error($"'{dq.Name}' has block size {blockSize}; ONNX Runtime's MatMulNBits takes 16, 32, 64, 128 or 256");
        return (float[])scale.Data.Clone();
    }

    // Per row or per tensor: the row's scale repeated over its blocks (K rounded up to a power of two, at most
    // MaxBlockSize, per block) — the same dequantized weights.
    private static float[] RowScales(QdqGraphRewrite r, Node dq, int n, int k, out int blockSize)
    {
        blockSize = MinBlockSize;
        while (blockSize < k && blockSize < MaxBlockSize) blockSize *= 2;
        int blocks = (k + blockSize - 1) / blockSize;
        var scale = r.Graph.Initializers[dq.Inputs[1]];
        if (scale.Size != 1 && (scale.Size != n || dq.Int("axis", 1) != 0))
            throw r.Error($"'{dq.Name}' has {scale.Size} weight scales; expected one per tensor, per output channel or per block");
        var scales = new float[n * blocks];
        for (int i = 0; i < scales.Length; i++) scales[i] = scale.Data[scale.Size == 1 ? 0 : i / blocks];
        return scales;
    }

    // W [N, K] of integers in [−8, 7] → uint8 [N, k_blocks, blockSize/2]; element k of a block sits in byte k/2,
    // the low nibble for even k. Padding past K holds the zero point (dequantizes to 0).
    private static Tensor Pack(Tensor w, int blockSize)
    {
        int n = w.Shape[0], k = w.Shape[1], blocks = (k + blockSize - 1) / blockSize, blob = blockSize * Bits / 8;
        var bytes = new float[n * blocks * blob];
        for (int row = 0; row < n; row++)
            for (int block = 0; block < blocks; block++)
                for (int j = 0; j < blob; j++)
                {
                    int k0 = block * blockSize + 2 * j, k1 = k0 + 1;
                    int low = (k0 < k ? (int)w.Data[row * k + k0] : 0) + ZeroPoint;
                    int high = (k1 < k ? (int)w.Data[row * k + k1] : 0) + ZeroPoint;
                    bytes[(row * blocks + block) * blob + j] = low | (high << 4);
                }
        return new Tensor(bytes, [n, blocks, blob]);
    }
}
