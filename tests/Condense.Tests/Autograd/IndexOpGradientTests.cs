// Finite-difference checks of the float32 gradients of the index family, run as graph nodes (GraphOps.Run): the
// data-movement ops get theirs from Take, ScatterElements/ScatterND add and CumSum from their own kernels. Also the
// one-line refusal of a gradient the engine does not have (scatter with mul, max or min).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class IndexOpGradientTests
{
    private static readonly OpContext Context = new(Training: true, new Rng(1));

    private static Tensor Longs(long[] values, params int[] shape) => Tensor.FromInt64s(values, DataType.Int64, shape);

    private static Func<Tensor[], Tensor> Op(string op, Func<Tensor[], Tensor?[]> inputs, int output = 0, params (string, AttributeValue)[] attributes)
    {
        var node = new Node("n", op, ["a", "b", "c", "d", "e"], ["y", "z", "w", "v"], attributes.ToDictionary(a => a.Item1, a => a.Item2));
        return x => GraphOps.Run(node, inputs(x), Context)[output];
    }

    public static TheoryData<string> Cases() =>
    [
        "Slice", "Split", "Tile", "Trilu", "GatherElements", "GatherND", "ScatterElements none", "ScatterElements add", "ScatterND add",
        "OneHot", "TopK", "CumSum", "CumSum exclusive reverse", "Compress", "Unique", "DepthToSpace", "SpaceToDepth",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientMatchesFiniteDifferences(string name)
    {
        var x = GradCheck.Random(3, 2, 4, 3);
        var (f, inputs) = name switch
        {
            "Slice" => (Op(OpTypes.Slice, t => [t[0], Longs([-1, 0], 2), Longs([long.MinValue, 3], 2), Longs([1, 2], 2), Longs([-2, 2], 2)]), [x]),
            "Split" => (Op(OpTypes.Split, t => [t[0], Longs([0, 1, 2, 1], 4)], 2, ("axis", AttributeValue.Int(1))), [x]),
            "Tile" => (Op(OpTypes.Tile, t => [t[0], Longs([1, 2, 2], 3)]), [x]),
            "Trilu" => (Op(OpTypes.Trilu, t => [t[0], Longs([-1])], 0, ("upper", AttributeValue.Int(0))), [x]),
            "GatherElements" => (Op(OpTypes.GatherElements, t => [t[0], Longs([0, 3, 3, 1, 1, 1, 2, 0, -1, 0, 0, 2], 2, 2, 3)], 0,
                ("axis", AttributeValue.Int(1))), [x]),
            "GatherND" => (Op(OpTypes.GatherND, t => [t[0], Longs([1, 2, 1, 2, 0, 0], 3, 2)]), [x]),
            "ScatterElements none" => (Op(OpTypes.ScatterElements, t => [t[0], Longs([1, 1, 0, 3, 2, 2], 2, 1, 3), t[1]], 0,
                ("axis", AttributeValue.Int(1))), [x, GradCheck.Random(4, 2, 1, 3)]),
            "ScatterElements add" => (Op(OpTypes.ScatterElements, t => [t[0], Longs([1, 1, 1, 3, 3, 2], 2, 1, 3), t[1]], 0,
                ("axis", AttributeValue.Int(1)), ("reduction", AttributeValue.String("add"))), [x, GradCheck.Random(4, 2, 1, 3)]),
            "ScatterND add" => (Op(OpTypes.ScatterND, t => [t[0], Longs([1, 2, 1, 2, 0, 0], 3, 2), t[1]], 0, ("reduction", AttributeValue.String("add"))),
                [x, GradCheck.Random(5, 3, 3)]),
            "OneHot" => (Op(OpTypes.OneHot, t => [Longs([0, 2, -1, 5], 2, 2), Longs([3]), t[0]]), [GradCheck.Random(6, 2)]),
            "TopK" => (Op(OpTypes.TopK, t => [t[0], Longs([2], 1)], 0, ("axis", AttributeValue.Int(1))), [x]),
            "CumSum" => (Op(OpTypes.CumSum, t => [t[0], Longs([1])]), [x]),
            "CumSum exclusive reverse" => (Op(OpTypes.CumSum, t => [t[0], Longs([-1])], 0, ("exclusive", AttributeValue.Int(1)),
                ("reverse", AttributeValue.Int(1))), [x]),
            "Compress" => (Op(OpTypes.Compress, t => [t[0], Tensor.FromBools([true, false, true], 3)], 0, ("axis", AttributeValue.Int(2))), [x]),
            "Unique" => (Op(OpTypes.Unique, t => [t[0]]), [x]),
            "DepthToSpace" => (Op(OpTypes.DepthToSpace, t => [t[0]], 0, ("blocksize", AttributeValue.Int(2)), ("mode", AttributeValue.String("CRD"))),
                [GradCheck.Random(7, 1, 8, 2, 3)]),
            _ => (Op(OpTypes.SpaceToDepth, t => [t[0]], 0, ("blocksize", AttributeValue.Int(2))), new[] { GradCheck.Random(8, 1, 2, 4, 6) }),
        };
        GradCheck.Check(f, inputs, eps: 1e-3f);
    }

    [Theory]
    [InlineData("mul")]
    [InlineData("max")]
    [InlineData("min")]
    public void ScatterReductionsWithoutGradientRefuseInOneLine(string reduction)
    {
        var x = GradCheck.Random(9, 3, 2);
        x.RequiresGrad = true;
        var f = Op(OpTypes.ScatterND, t => [t[0], Longs([1], 1, 1), GradCheck.Random(10, 1, 2)], 0, ("reduction", AttributeValue.String(reduction)));
        var e = Assert.Throws<CondenseException>(() => f([x]));
        Assert.Contains(reduction, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void OutOfRangeIndicesAreRefusedInOneLine()
    {
        var x = GradCheck.Random(11, 3, 4);
        foreach (var (op, inputs) in new (string, Tensor?[])[]
        {
            (OpTypes.GatherElements, [x, Longs([4], 1, 1)]),
            (OpTypes.GatherND, [x, Longs([3, 0], 1, 2)]),
            (OpTypes.ScatterElements, [x, Longs([-5], 1, 1), GradCheck.Random(12, 1, 1)]),
            (OpTypes.TopK, [x, Longs([5], 1)]),
        })
        {
            var e = Assert.Throws<CondenseException>(() => GraphOps.Run(new Node("n", op, ["a", "b", "c"], ["y", "z"]), inputs, Context));
            Assert.StartsWith($"node 'n' ({op}): ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }
}
