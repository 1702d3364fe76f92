// Transpose's data movement (merged axes, row copies, blocked batch transposes, the strided walk) against Take over
// IndexMaps.Permute — the definition, element by element — for every permutation of shapes with axes of one element,
// of none, and odd sizes that cross the 32 × 32 blocks; and its gradient against the inverse permutation's definition.
using Condense.Tensors;

namespace Condense.Tests.Tensors;

public class PermuteTests
{
    private static IEnumerable<int[]> Permutations(int n) => n == 0 ? [[]]
        : Permutations(n - 1).SelectMany(p => Enumerable.Range(0, n).Select(at => (int[])[.. p[..at], n - 1, .. p[at..]]));

    public static TheoryData<int[]> Shapes() => new()
    {
        { [2, 3, 5, 7] }, { [1, 37, 1, 41] }, { [3, 1, 4] }, { [33, 35] }, { [2, 0, 3] }, { [1, 1, 1] }, { [2, 3, 1, 2, 5] }, { [3, 4, 4] },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryPermutationMovesWhatTheDefinitionSays(int[] shape)
    {
        var x = Tensor.Uniform(new Rng(1), -1f, 1f, shape);
        var weights = Tensor.Uniform(new Rng(2), -1f, 1f, Shape.Size(shape));
        foreach (var perm in Permutations(shape.Length))
        {
            var outShape = perm.Select(p => shape[p]).ToArray();
            var expected = x.Take(IndexMaps.Permute(shape, perm), outShape);
            x.RequiresGrad = true;
            x.Grad = null;
            var y = x.Permute(perm);
            Assert.Equal(outShape, y.Shape);
            Assert.Equal(expected.Data, y.Data);
            // d/dx of Σ w·permute(x) is w permuted back: w's element k lands where output element k came from.
            y.Mul(weights.Reshape(outShape)).Sum().Backward();
            var source = IndexMaps.Permute(shape, perm);
            var gradient = new float[x.Size];
            for (int k = 0; k < source.Length; k++) gradient[source[k]] = weights.Data[k];
            Assert.Equal(gradient, x.Grad!.Data);
        }
    }
}
