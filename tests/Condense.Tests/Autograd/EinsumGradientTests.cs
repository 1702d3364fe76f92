// Finite-difference checks of Einsum's float32 gradients into every operand, for the contraction forms (attention,
// bilinear with three operands), a diagonal (a gather) and a broadcast ellipsis.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class EinsumGradientTests
{
    private static readonly OpContext Context = new(Training: true, new Rng(1));

    [Theory]
    [InlineData("bhid,bhjd->bhij", new[] { 2, 2, 3, 4 }, new[] { 2, 2, 5, 4 }, null)]
    [InlineData("bn,anm,bm->ba", new[] { 2, 3 }, new[] { 4, 3, 5 }, new[] { 2, 5 })]
    [InlineData("...ii->...i", new[] { 2, 3, 3 }, null, null)]
    [InlineData("...ij,...jk->...ik", new[] { 2, 1, 3, 4 }, new[] { 3, 4, 2 }, null)]
    public void EinsumGradientMatchesFiniteDifferences(string equation, int[] a, int[]? b, int[]? c)
    {
        var shapes = new[] { a, b, c }.OfType<int[]>().ToArray();
        var node = new Node("n", OpTypes.Einsum, [.. shapes.Select((_, i) => $"x{i}")], ["y"],
            new Dictionary<string, AttributeValue> { ["equation"] = AttributeValue.String(equation) });
        var inputs = shapes.Select((s, i) => GradCheck.Random((ulong)(31 + i), s)).ToArray();
        GradCheck.Check(x => GraphOps.Run(node, [.. x], Context)[0], inputs, eps: 1e-3f);
    }
}
