// Comparisons, logic and selection: every element type in, bool out (Where: the type of X and Y, with the
// gradient flowing to the side each element came from). The typed kernels are Tensors/Ops.Typed.Compare.cs.
using Condense.Tensors;
using static Condense.Graph.GraphOps;

namespace Condense.Graph.Ops;

internal static class LogicOps
{
    public static OpDef[] Defs =>
    [
        Compare(OpTypes.Equal, Comparison.Equal, since: 1),
        Compare(OpTypes.Less, Comparison.Less, since: 1),
        Compare(OpTypes.LessOrEqual, Comparison.LessOrEqual, since: 12),
        Compare(OpTypes.Greater, Comparison.Greater, since: 1),
        Compare(OpTypes.GreaterOrEqual, Comparison.GreaterOrEqual, since: 12),
        Logical(OpTypes.And, Logic.And),
        Logical(OpTypes.Or, Logic.Or),
        Logical(OpTypes.Xor, Logic.Xor),
        new(OpTypes.Not, (n, x, _) => [TypedOps.Not(Required(n, x, 0))], OpGradient.None, OpExport.AsIs) { Types = TypeSets.All },
        new(OpTypes.Where, (n, x, _) => [Tensor.Where(Required(n, x, 0), Required(n, x, 1), Required(n, x, 2))], OpGradient.Autograd, OpExport.AsIs)
            { Since = 9, Types = TypeSets.All },
    ];

    private static OpDef Compare(string name, Comparison comparison, int since) =>
        new(name, (n, x, _) => [TypedOps.Compare(Required(n, x, 0), Second(n, x), comparison)], OpGradient.None, OpExport.AsIs)
            { Since = since, Types = TypeSets.All, Upgrade = OpsetUpgrades.AxisBroadcast };

    private static OpDef Logical(string name, Logic logic) =>
        new(name, (n, x, _) => [TypedOps.Logical(Required(n, x, 0), Second(n, x), logic)], OpGradient.None, OpExport.AsIs)
            { Types = TypeSets.All, Upgrade = OpsetUpgrades.AxisBroadcast };
}
