// The one table of operators. Each family file (LayerOps, ElementwiseOps, ReduceOps, ShapeOps, QuantizeOps)
// lists its entries; the executor runs what the entry says, the importer accepts what is here, and the exporter
// writes each op as its entry says. Adding an operator is one entry in one family file (and its name in
// OpTypes); tests check that every entry runs, has a parity case against ONNX Runtime and an export decision.
namespace Condense.Graph.Ops;

/// <summary>Every operator the engine knows, by op type.</summary>
public static class OpRegistry
{
    private static readonly Dictionary<string, OpDef> Defs = Index(
        [.. LayerOps.Defs, .. ElementwiseOps.Defs, .. ReduceOps.Defs, .. ShapeOps.Defs, .. QuantizeOps.Defs, .. LogicOps.Defs, .. IndexOps.Defs,
            .. MathOps.Defs, .. LossOps.Defs, .. ResizeOps.Defs, .. NormOps.Defs, .. FusedOps.Defs]);

    private static readonly string[] ExecutableNames = [.. Defs.Values.Where(d => d.Execute is not null).Select(d => d.Name)];

    /// <summary>Every registered operator.</summary>
    public static IReadOnlyCollection<OpDef> All => Defs.Values;

    /// <summary>The op types the engine runs, in registration order.</summary>
    public static IReadOnlyCollection<string> Executable => ExecutableNames;

    /// <summary>The entry of <paramref name="opType"/>, or null when the engine does not know it.</summary>
    public static OpDef? Find(string opType) => Defs.GetValueOrDefault(opType);

    /// <summary>True when the engine runs <paramref name="opType"/>.</summary>
    public static bool CanExecute(string opType) => Find(opType)?.Execute is not null;

    /// <summary>True when the importer reads <paramref name="opType"/>: the engine runs it, or it is rewritten on import.</summary>
    public static bool CanImport(string opType) =>
        Find(opType) is { } d && d.Import != OpImport.EngineOnly && (d.Execute is not null || d.Import != OpImport.AsIs);

    /// <summary>The op types the exporter writes into the default ONNX domain (as they are or rewritten), sorted.</summary>
    public static IEnumerable<string> Exportable =>
        Defs.Values.Where(d => d.Export is OpExport.AsIs or OpExport.Rewritten).Select(d => d.Name).Order(StringComparer.Ordinal);

    private static Dictionary<string, OpDef> Index(OpDef[] defs)
    {
        var index = new Dictionary<string, OpDef>(StringComparer.Ordinal);
        foreach (var d in defs)
            if (!index.TryAdd(d.Name, d)) throw new InvalidOperationException($"op '{d.Name}' is registered twice");
        return index;
    }
}
