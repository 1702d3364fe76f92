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

    /// <summary>The error for an input of an element type the op does not run on.</summary>
    public static CondenseException UnsupportedType(Node node, int input, DataType type) =>
        new($"node '{node.Name}' ({node.OpType}): input {input} is {type.OnnxName()}, a type this op does not support");

    /// <summary>
    /// Runs a float32 kernel on 8- and 16-bit integers, which float32 holds exactly (MaxPool on uint8 images): the
    /// inputs are converted, the first output converted back to the first input's type; other outputs keep theirs.
    /// </summary>
    internal static Kernel SmallIntegersViaFloat(Kernel kernel) => (node, inputs, context) =>
    {
        if (inputs.Length == 0 || inputs[0] is not { DataType: not DataType.Float32 } first) return kernel(node, inputs, context);
        var floats = inputs.Select(t => t is { DataType: not DataType.Float32 } ? TypedOps.Cast(t, DataType.Float32) : t).ToArray();
        var outputs = kernel(node, floats, context);
        outputs[0] = TypedOps.Cast(outputs[0], first.DataType);
        return outputs;
    };

    /// <summary>The integer types float32 holds exactly, for <see cref="SmallIntegersViaFloat"/>.</summary>
    internal static readonly IReadOnlySet<DataType> SmallIntegers =
        new HashSet<DataType> { DataType.Float32, DataType.Int8, DataType.UInt8, DataType.Int16, DataType.UInt16 };

    // A binary arithmetic op: the autograd float32 kernel when both inputs are float32, else the typed one
    // (ONNX types: integers wrap, integer division truncates, float16 rounds).
    internal static Tensor Arithmetic(Node node, Tensor?[] inputs, Func<Tensor, Tensor, Tensor> float32, Func<Tensor, Tensor, Tensor> typed)
    {
        var a = Required(node, inputs, 0);
        var b = Second(node, inputs);
        return a.DataType == DataType.Float32 && b.DataType == DataType.Float32 ? float32(a, b) : typed(a, b);
    }

    internal static Tensor Required(Node node, Tensor?[] inputs, int index) =>
        index < inputs.Length && inputs[index] is { } t ? t
            : throw new CondenseException($"node '{node.Name}' ({node.OpType}) is missing input {index}");

    internal static Tensor? Optional(Tensor?[] inputs, int index) => index < inputs.Length ? inputs[index] : null;

    // ONNX DynamicQuantizeLinear: uint8 with scale = (max(0, max x) − min(0, min x)) / 255 and
    // zero point = saturate(round(−min(0, min x) / scale)), from this batch alone.
    internal static Tensor[] DynamicQuantizeLinear(Tensor x)
    {
        // The integer GEMM's parameters (Kernels/Transformer/DynamicQuantizedMatMul): one vectorized pass, NaNs left out.
        var (scale, zero) = Kernels.Transformer.DynamicQuantizedMatMul.ParametersParallel(x.Data);
        var s = Tensor.Scalar(scale);
        var z = Tensor.Scalar((float)zero);
        var q = x.QuantizeLinear(s, z, 1, 0, 255);
        // uint8 outputs as ONNX types them, unless a gradient flows through the codes (straight through).
        return q.RequiresGrad ? [q, s, z] : [TypedOps.Cast(q, DataType.UInt8), s, TypedOps.Cast(z, DataType.UInt8)];
    }

    // ONNX Reshape: 0 copies the input's dimension (unless allowzero, opset 14+, makes it a real 0), −1 is inferred.
    internal static Tensor Reshape(Tensor x, Tensor shape, bool allowZero)
    {
        var dims = shape.ToInt64Values().Select(v => (int)v).ToArray();
        if (!allowZero) for (int i = 0; i < dims.Length; i++) if (dims[i] == 0) dims[i] = x.Shape[i];
        return x.Reshape(dims);
    }
}
