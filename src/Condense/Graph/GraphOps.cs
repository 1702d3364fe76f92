// How each ONNX op type runs in the engine: a table from op type to a function of the node and its
// input tensors. Every entry is built from autograd ops, so a graph module trains like any module.
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>What an op needs besides its inputs: the mode and a generator for dropout.</summary>
public sealed record OpContext(bool Training, Rng Rng, ModelGraph? Graph = null);

/// <summary>The ops a <see cref="GraphModule"/> can execute.</summary>
public static partial class GraphOps
{
    /// <summary>How one op type runs: its output tensors from the node and its inputs.</summary>
    public delegate Tensor[] Kernel(Node node, Tensor?[] inputs, OpContext context);

    private static readonly Dictionary<string, Kernel> Table = new()
    {
        ["Gemm"] = (n, x, _) => [Tensor.Gemm(Required(n, x, 0), Required(n, x, 1), Optional(x, 2),
            n.Float("alpha", 1f), n.Float("beta", 1f), n.Int("transA", 0) != 0, n.Int("transB", 0) != 0)],
        ["MatMul"] = (n, x, _) => [Required(n, x, 0).MatMul(Required(n, x, 1))],
        ["Conv"] = (n, x, _) => [Conv(n, x)],
        ["Add"] = (n, x, _) => [Required(n, x, 0).Add(Second(n, x))],
        ["Sub"] = (n, x, _) => [Required(n, x, 0).Sub(Second(n, x))],
        ["Mul"] = (n, x, _) => [Required(n, x, 0).Mul(Second(n, x))],
        ["Div"] = (n, x, _) => [Required(n, x, 0).Div(Second(n, x))],
        ["Relu"] = (n, x, _) => [Required(n, x, 0).Relu()],
        ["LeakyRelu"] = (n, x, _) => [Required(n, x, 0).LeakyRelu(n.Float("alpha", 0.01f))],
        ["Sigmoid"] = (n, x, _) => [Required(n, x, 0).Sigmoid()],
        ["Tanh"] = (n, x, _) => [Required(n, x, 0).Tanh()],
        ["Exp"] = (n, x, _) => [Required(n, x, 0).Exp()],
        ["Log"] = (n, x, _) => [Required(n, x, 0).Log()],
        ["Softmax"] = (n, x, _) => [Required(n, x, 0).Softmax((int)n.Int("axis", -1))],
        ["LogSoftmax"] = (n, x, _) => [Required(n, x, 0).LogSoftmax((int)n.Int("axis", -1))],
        ["Flatten"] = (n, x, _) => [Required(n, x, 0).Flatten((int)n.Int("axis", 1))],
        ["Reshape"] = (n, x, _) => [Reshape(Required(n, x, 0), Required(n, x, 1), n.Int("allowzero", 0) != 0)],
        ["Identity"] = (n, x, _) => [Required(n, x, 0)],
        ["Dropout"] = Dropout,
        ["QuantizeLinear"] = (n, x, c) =>
        {
            // The output type is the zero point's type (uint8 when there is none), as ONNX specifies.
            var type = n.Inputs.Count > 2 && n.Inputs[2].Length > 0 && c.Graph is not null ? c.Graph.TypeOf(n.Inputs[2]) : ElementType.UInt8;
            var (min, max) = type == ElementType.Float32 ? ElementType.UInt8.Range() : type.Range();
            // Fewer bits than the stored type (e.g. 4-bit weights in QAT): a narrower range by attribute.
            min = n.Int("qmin", min); max = n.Int("qmax", max);
            return [Required(n, x, 0).QuantizeLinear(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1), min, max)];
        },
        ["DynamicQuantizeLinear"] = (n, x, _) => DynamicQuantizeLinear(Required(n, x, 0)),
        ["DequantizeLinear"] = (n, x, _) => [n.Int("block_size", 0) > 0
            ? Required(n, x, 0).DequantizeLinearBlocked(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1), (int)n.Int("block_size", 0))
            : Required(n, x, 0).DequantizeLinear(Required(n, x, 1), Optional(x, 2), (int)n.Int("axis", 1))],
        // Integer products of dynamic QOperator graphs, exact (GraphOps.Integer.cs).
        ["MatMulInteger"] = (n, x, _) => [MatMulInteger(n, x)],
        ["ConvInteger"] = (n, x, _) => [ConvInteger(n, x)],
        // What exporters emit besides layers (GraphOps.Onnx.cs): shape arithmetic runs on float tensors holding integers.
        ["Transpose"] = (n, x, _) => [Transpose(n, Required(n, x, 0))],
        ["Clip"] = (n, x, _) => [Clip(n, x)],
        ["Sqrt"] = (n, x, _) => [Required(n, x, 0).Sqrt()],
        ["Pow"] = (n, x, _) => [Pow(n, x)],
        ["Erf"] = (n, x, _) => [Erf(Required(n, x, 0))],
        ["Gelu"] = (n, x, _) => [Required(n, x, 0).Gelu(n.Attributes.TryGetValue("approximate", out var a) && a.StringValue == "tanh")],
        ["ReduceMean"] = (n, x, _) => [ReduceMean(n, x)],
        ["ReduceSum"] = (n, x, _) => [ReduceSum(n, x)],
        ["ReduceSumSquare"] = (n, x, _) => [ReduceSumSquare(n, x)],
        ["ReduceMax"] = (n, x, _) => [ReduceMax(n, x)],
        ["ReduceMin"] = (n, x, _) => [ReduceMin(n, x)],
        ["Shape"] = (n, x, _) => [ShapeOf(n, Required(n, x, 0))],
        ["Gather"] = (n, x, _) => [Required(n, x, 0).Gather(Required(n, x, 1), (int)n.Int("axis", 0))],
        ["Unsqueeze"] = (n, x, _) => [Unsqueeze(n, x)],
        ["Squeeze"] = (n, x, _) => [Squeeze(n, x)],
        ["Concat"] = (n, x, _) => [Tensor.Concat(x.Select((t, i) => t ?? Required(n, x, i)).ToArray(), (int)n.Int("axis", 0))],
        ["Cast"] = (n, x, _) => [Cast(n, Required(n, x, 0))],
        ["ConstantOfShape"] = (n, x, _) => [ConstantOfShape(n, Required(n, x, 0))],
        ["Expand"] = (n, x, _) => [Expand(n, x)],
        ["Pad"] = (n, x, _) => [Pad(n, x)],
        // Pooling and batch norm (GraphOps.Pool.cs).
        ["MaxPool"] = (n, x, _) => MaxPool(n, x),
        ["AveragePool"] = (n, x, _) => [AveragePool(n, x)],
        ["GlobalAveragePool"] = (n, x, _) => [Required(n, x, 0).GlobalAvgPool()],
        ["GlobalMaxPool"] = (n, x, _) => [Required(n, x, 0).GlobalMaxPool()],
        ["BatchNormalization"] = BatchNormalization,
    };

    /// <summary>The op types the engine runs.</summary>
    public static IReadOnlyCollection<string> Supported => Table.Keys;

    /// <summary>True when <paramref name="opType"/> can run.</summary>
    public static bool IsSupported(string opType) => Table.ContainsKey(opType);

    /// <summary>Runs one node on its inputs (null for omitted optional inputs).</summary>
    public static Tensor[] Run(Node node, Tensor?[] inputs, OpContext context) => Resolve(node)(node, inputs, context);

    /// <summary>The function that runs <paramref name="node"/>'s op type.</summary>
    public static Kernel Resolve(Node node) => Table.TryGetValue(node.OpType, out var op) ? op : throw Unsupported(node);

    /// <summary>The error for an op the engine cannot run: names the op, the node and the supported set.</summary>
    public static CondenseException Unsupported(Node node) =>
        new($"unsupported op '{node.OpType}' in node '{node.Name}'; supported: {string.Join(", ", Table.Keys.Order(StringComparer.Ordinal))}");

    private static Tensor Required(Node node, Tensor?[] inputs, int index) =>
        index < inputs.Length && inputs[index] is { } t ? t
            : throw new CondenseException($"node '{node.Name}' ({node.OpType}) is missing input {index}");

    private static Tensor? Optional(Tensor?[] inputs, int index) => index < inputs.Length ? inputs[index] : null;

    // ONNX DynamicQuantizeLinear: uint8 with scale = (max(0, max x) − min(0, min x)) / 255 and
    // zero point = saturate(round(−min(0, min x) / scale)), from this batch alone.
    private static Tensor[] DynamicQuantizeLinear(Tensor x)
    {
        float min = 0f, max = 0f;
        foreach (float v in x.Data) { if (v < min) min = v; if (v > max) max = v; }
        float scale = (max - min) / 255f;
        if (scale == 0f) scale = 1f; // an all-zero batch: any scale represents it exactly
        float zero = Math.Clamp(MathF.Round(-min / scale), 0f, 255f);
        var s = Tensor.Scalar(scale);
        var z = Tensor.Scalar(zero);
        return [x.QuantizeLinear(s, z, 1, 0, 255), s, z];
    }

    // ONNX Reshape: 0 copies the input's dimension (unless allowzero, opset 14+, makes it a real 0), −1 is inferred.
    private static Tensor Reshape(Tensor x, Tensor shape, bool allowZero)
    {
        var dims = shape.Data.Select(v => (int)v).ToArray();
        if (!allowZero) for (int i = 0; i < dims.Length; i++) if (dims[i] == 0) dims[i] = x.Shape[i];
        return x.Reshape(dims);
    }
}
