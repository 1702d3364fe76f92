// Finite-difference checks of the float32 gradients of the reductions that train (all but ReduceProd), run as graph
// nodes (GraphOps.Run) over one axis and over two with keepdims off. Inputs stay where each is smooth: away from 0 for
// ReduceL1, positive for ReduceLogSum.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class ReduceOpGradientTests
{
    private static readonly OpContext Context = new(Training: true, new Rng(1));

    public static TheoryData<string, float, float> Cases() => new()
    {
        { OpTypes.ReduceSum, -2f, 2f }, { OpTypes.ReduceMean, -2f, 2f }, { OpTypes.ReduceSumSquare, -2f, 2f },
        { OpTypes.ReduceL1, 0.2f, 2f }, { OpTypes.ReduceL2, -2f, 2f }, { OpTypes.ReduceLogSum, 0.2f, 2f },
        { OpTypes.ReduceLogSumExp, -3f, 3f }, { OpTypes.ReduceMax, -2f, 2f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReductionGradientMatchesFiniteDifferences(string op, float low, float high)
    {
        var x = Tensor.Uniform(new Rng(21), low, high, 2, 3, 4);
        // ReduceL1's |x| is checked on both signs: flip every other value.
        if (op == OpTypes.ReduceL1) x = x.Mul(new Tensor([.. Enumerable.Range(0, 24).Select(i => i % 2 == 0 ? 1f : -1f)], 2, 3, 4));
        foreach (var attributes in new Dictionary<string, AttributeValue>[]
        {
            new() { ["axes"] = AttributeValue.Ints([1]) },
            new() { ["axes"] = AttributeValue.Ints([0, 2]), ["keepdims"] = AttributeValue.Int(0) },
        })
        {
            var node = new Node("n", op, ["x"], ["y"], attributes);
            GradCheck.Check(v => GraphOps.Run(node, [.. v], Context)[0], [x], eps: 1e-3f);
        }
    }
}
