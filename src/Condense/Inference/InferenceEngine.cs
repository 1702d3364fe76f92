// The front door of inference: one look at a (possibly quantized) graph decides what runs it — the integer
// engine for static QDQ Gemm chains (IntegerModel), the one for Conv/Gemm chains (IntegerConvModel), the graph
// with its dynamic int8 MatMuls (and their bias Adds) fused onto the integer GEMM (DynamicMatMulFusion), or the graph in
// float (a float model, or the float simulation of a quantization the engines refuse) — either graph with its LayerNorm
// and GELU decompositions, Linear layers, attention blocks and residual norms fused into single ops by FloatGraphFusion
// and AttentionFusion, in a copy — and says which, and why it fell back. Each engine reads the graph at
// most once: compiling is the analysis.
using Condense.Graph;
using Condense.Nn;

namespace Condense.Inference;

/// <summary>What runs a compiled model.</summary>
public enum EngineKind
{
    /// <summary>
    /// The graph in float (for a quantized graph: the exact float simulation of its quantization); LayerNorm and GELU
    /// decompositions, attention blocks and residual norms run as single ops (a fused copy of the graph).
    /// </summary>
    Float,

    /// <summary><see cref="IntegerModel"/>: a static int8 chain of Gemm layers.</summary>
    Integer,

    /// <summary><see cref="IntegerConvModel"/>: a static int8 chain of Conv/Gemm layers with pooling and reshapes.</summary>
    IntegerConv,

    /// <summary>
    /// The graph with its dynamic int8 MatMuls and their bias Adds fused onto the integer GEMM (DynamicQuantizeMatMul), the
    /// rest in float (fused as for <see cref="Float"/>).
    /// </summary>
    DynamicInteger,
}

/// <summary>A model ready to run, which engine runs it, and — when it runs in float — why no integer engine took it.</summary>
/// <param name="Runner">The module to call <c>Forward</c> on.</param>
/// <param name="Kind">The engine.</param>
/// <param name="FallbackReason">The integer engine's one-line refusal when <paramref name="Kind"/> is Float; null otherwise.</param>
public sealed record CompiledModel(Module Runner, EngineKind Kind, string? FallbackReason)
{
    /// <summary>True when an integer engine runs the model.</summary>
    public bool IsInteger => Kind != EngineKind.Float;
}

/// <summary>Compiles a model for inference.</summary>
public static class InferenceEngine
{
    /// <summary>
    /// The integer engine for <paramref name="model"/>'s graph when one compiles it (Gemm chains first, then Conv/Gemm chains,
    /// then the graph with its dynamic QDQ MatMuls fused), else the float graph — <paramref name="model"/> itself, or a copy
    /// with its LayerNorm, GELU, Linear and attention chains fused, in eval mode — with the reason: the Conv engine's refusal for a graph with
    /// a Conv, the Gemm engine's otherwise.
    /// </summary>
    public static CompiledModel Compile(GraphModule model)
    {
        ArgumentNullException.ThrowIfNull(model);
        string gemmReason, convReason;
        try { return new CompiledModel(IntegerModel.Compile(model.Graph), EngineKind.Integer, null); }
        catch (CondenseException e) { gemmReason = e.Message; }
        try { return new CompiledModel(IntegerConvModel.Compile(model.Graph), EngineKind.IntegerConv, null); }
        catch (CondenseException e) { convReason = e.Message; }
        if (SizedIntegerConvModel.TryCreate(model.Graph, () => FloatRunner(model)) is { } sized) return new CompiledModel(sized, EngineKind.IntegerConv, null);
        if (DynamicMatMulFusion.Fuse(model.Graph) is { } products)
        {
            var runner = new GraphModule(Fusions(model.Graph, products)!);
            runner.Eval();
            return new CompiledModel(runner, EngineKind.DynamicInteger, null);
        }
        bool hasConv = model.Graph.Nodes.Any(n => n.OpType == OpTypes.Conv);
        return new CompiledModel(FloatRunner(model), EngineKind.Float, hasConv ? convReason : gemmReason);
    }

    // The graph in float, its fusions applied (the model itself when nothing fuses).
    private static GraphModule FloatRunner(GraphModule model)
    {
        // A static graph's Linear layers on the integer GEMM.
        if (Fusions(model.Graph, DynamicMatMulFusion.Fuse(model.Graph, statics: true)) is not { } fused) return model;
        var runner = new GraphModule(fused);
        runner.Eval();
        return runner;
    }

    // The graph with its quantized products fused (products: DynamicMatMulFusion's copy, or null), then the rest of its
    // quantization simulated in one pass per pair and its weights dequantized once (QuantizeDequantizeFusion), then its
    // float chains fused (FloatGraphFusion); null when nothing fuses.
    private static ModelGraph? Fusions(ModelGraph graph, ModelGraph? products)
    {
        var simulated = QuantizeDequantizeFusion.Fuse(products ?? graph) ?? products;
        return FloatGraphFusion.Fuse(simulated ?? graph) ?? simulated;
    }

    /// <summary>
    /// What runs a graph model fed by name (a text encoder): the compiled runner when it is a graph (fused float ops, or
    /// the dynamic int8 engine), else <paramref name="model"/> itself — the Gemm chain engine takes one unnamed input.
    /// </summary>
    internal static GraphModule GraphRunner(GraphModule model) => Compile(model).Runner as GraphModule ?? model;
}
