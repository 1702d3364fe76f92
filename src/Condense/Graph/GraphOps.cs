// How each ONNX op type runs in the engine: the function of the node and its input tensors that its entry in
// Ops/OpRegistry holds. Every function is built from autograd ops, so a graph module trains like any module;
// the GraphOps partial files hold the ONNX semantics (attributes, opset differences) the entries call.
using Condense.Graph.Ops;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>What an op needs besides its inputs: the mode and a generator for dropout.</summary>
public sealed record OpContext(bool Training, Rng Rng, ModelGraph? Graph = null);

/// <summary>The ops a <see cref="GraphModule"/> can execute.</summary>
public static partial class GraphOps
{
    /// <summary>How one op type runs: its output tensors from the node and its inputs.</summary>
    public delegate Tensor[] Kernel(Node node, Tensor?[] inputs, OpContext context);

    /// <summary>The op types the engine runs.</summary>
    public static IReadOnlyCollection<string> Supported => OpRegistry.Executable;

    /// <summary>True when <paramref name="opType"/> can run.</summary>
    public static bool IsSupported(string opType) => OpRegistry.CanExecute(opType);

    /// <summary>Runs one node on its inputs (null for omitted optional inputs).</summary>
    public static Tensor[] Run(Node node, Tensor?[] inputs, OpContext context) => Resolve(node)(node, inputs, context);

    /// <summary>The function that runs <paramref name="node"/>'s op type.</summary>
    public static Kernel Resolve(Node node) => OpRegistry.Find(node.OpType)?.Execute ?? throw Unsupported(node);

    /// <summary>The error for an op the engine cannot run: names the op, the node and the supported set.</summary>
    public static CondenseException Unsupported(Node node) =>
        new($"unsupported op '{node.OpType}' in node '{node.Name}'; supported: {string.Join(", ", OpRegistry.Executable.Order(StringComparer.Ordinal))}");

    internal static Tensor Required(Node node, Tensor?[] inputs, int index) =>
        index < inputs.Length && inputs[index] is { } t ? t
            : throw new CondenseException($"node '{node.Name}' ({node.OpType}) is missing input {index}");

    internal static Tensor? Optional(Tensor?[] inputs, int index) => index < inputs.Length ? inputs[index] : null;

    // ONNX DynamicQuantizeLinear: uint8 with scale = (max(0, max x) − min(0, min x)) / 255 and
    // zero point = saturate(round(−min(0, min x) / scale)), from this batch alone.
    internal static Tensor[] DynamicQuantizeLinear(Tensor x)
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
    internal static Tensor Reshape(Tensor x, Tensor shape, bool allowZero)
    {
        var dims = shape.Data.Select(v => (int)v).ToArray();
        if (!allowZero) for (int i = 0; i < dims.Length; i++) if (dims[i] == 0) dims[i] = x.Shape[i];
        return x.Reshape(dims);
    }
}
