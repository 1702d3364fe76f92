// One operator as the engine knows it: its name, how it runs (a function of the node and its inputs built from
// autograd tensor ops), where its gradient comes from, how the ONNX importer reads it and how the exporter writes
// it. The ONNX-specific halves of import and export (QOperator rewrites, the exporter's Dropout and Reshape forms)
// live in Onnx/, which reads these entries; Graph knows nothing of ONNX's protobuf types.
namespace Condense.Graph.Ops;

/// <summary>Where an op's gradient comes from when a graph trains.</summary>
public enum OpGradient
{
    /// <summary>The hand-written backward of the autograd tensor ops it is built from.</summary>
    Autograd,
    /// <summary>The straight-through estimator of quantization: rounding passes the gradient inside the representable range.</summary>
    StraightThrough,
    /// <summary>None: its outputs are shapes, integer products or constants.</summary>
    None,
}

/// <summary>How the ONNX importer reads an op.</summary>
public enum OpImport
{
    /// <summary>As the node it is (after its entry's <see cref="OpDef.Upgrade"/> for models of older opsets).</summary>
    AsIs,
    /// <summary>Rewritten into the QDQ graph it stands for (Onnx/QOperatorImport); the engine never runs it.</summary>
    RewrittenToQdq,
    /// <summary>Becomes an initializer (Constant).</summary>
    Initializer,
    /// <summary>
    /// Never read from a file: only the inference engine creates it (DynamicQuantizeMatMul, by InferenceEngine's fusion;
    /// its tests compare it with the unfused graph).
    /// </summary>
    EngineOnly,
}

/// <summary>How the ONNX exporter writes an op.</summary>
public enum OpExport
{
    /// <summary>Unchanged, with its attributes (less <see cref="OpDef.CondenseAttributes"/>).</summary>
    AsIs,
    /// <summary>In another form (Onnx/OnnxExporter: Dropout dropped or an Identity, Reshape's shape as int64).</summary>
    Rewritten,
    /// <summary>Unchanged, in ONNX Runtime's com.microsoft domain.</summary>
    ContribDomain,
    /// <summary>Not exported: writing a graph that holds it is a one-line error.</summary>
    None,
}

/// <summary>Rewrites a node of an older opset's model into the nodes that mean the same at the opsets the engine follows.</summary>
public delegate IReadOnlyList<Node> OpUpgrade(ModelGraph graph, Node node, long opset);

/// <summary>One operator: its name, execution, gradient, import and export.</summary>
/// <param name="Name">The ONNX op type (an <see cref="OpTypes"/> constant).</param>
/// <param name="Execute">How the engine runs it; null for ops the importer rewrites away.</param>
/// <param name="Gradient">Where its gradient comes from.</param>
/// <param name="Export">How the exporter writes it.</param>
public sealed record OpDef(string Name, GraphOps.Kernel? Execute, OpGradient Gradient, OpExport Export)
{
    /// <summary>The ONNX opset the op arrived in; older models using it are refused on import.</summary>
    public int Since { get; init; } = 1;

    /// <summary>How a node of an older opset is read when the op's meaning changed since (null: it did not); see OpsetUpgrades.</summary>
    public OpUpgrade? Upgrade { get; init; }

    /// <summary>How the importer reads it.</summary>
    public OpImport Import { get; init; } = OpImport.AsIs;

    /// <summary>
    /// The element types its inputs may have (every input; the op checks finer constraints itself). Float32 only
    /// unless the entry says otherwise: the engine refuses other types before running an op not written for them.
    /// </summary>
    public IReadOnlySet<Tensors.DataType> Types { get; init; } = TypeSets.Float32;

    /// <summary>Inputs that carry integer parameters (axes, pads, shapes): any type passes; the op reads them as integers.</summary>
    public IReadOnlySet<int> IntegerInputs { get; init; } = new HashSet<int>();

    /// <summary>
    /// The op reads integer inputs as float32 values (the quantized-graph form of codes and zero points, exact up to
    /// 2^24): the engine converts integer-typed inputs before running it.
    /// </summary>
    public bool FloatHeld { get; init; }

    /// <summary>Attributes Condense adds that ONNX does not define, removed on export (QuantizeLinear's qmin/qmax).</summary>
    public IReadOnlyList<string> CondenseAttributes { get; init; } = [];
}

/// <summary>The sets of element types op entries accept.</summary>
public static class TypeSets
{
    /// <summary>Float32 only: ops built from the autograd float kernels.</summary>
    public static readonly IReadOnlySet<Tensors.DataType> Float32 = new HashSet<Tensors.DataType> { Tensors.DataType.Float32 };

    /// <summary>Every numeric type (not bool).</summary>
    public static readonly IReadOnlySet<Tensors.DataType> Numeric = Tensors.DataTypes.All.Where(t => t != Tensors.DataType.Bool).ToHashSet();

    /// <summary>Every element type.</summary>
    public static readonly IReadOnlySet<Tensors.DataType> All = Tensors.DataTypes.All.ToHashSet();
}
