// Storage sizes stage by stage: a hand-counted tiny tensor (every stream's bits), a dense tensor that
// needs no index, and a pruned, shared MLP whose sizes shrink at each stage as in the paper's tables.
using Condense.DeepCompression;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Tests.Quantization;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.DeepCompression;

public sealed class CompressionSizesTests
{
    [Fact]
    public void HandCountedTensor()
    {
        // 40 weights, kept at 0, 5 and 39 with −1, 0.5 and 2. Linear init −1, 0, 1, 2: 0.5 ties → the lower, index 1.
        var w = new float[40];
        w[0] = -1f; w[5] = 0.5f; w[39] = 2f;
        var shared = WeightSharing.Cluster(w, 2);
        Assert.Equal([0, 1, 3], shared.Indices);
        var s = CompressionSizes.Measure("w", shared, gapBits: 3);

        // Gaps 1, 5, 34 = 7·4 + 6 → codes 1, 5, 0, 0, 0, 0, 6.
        Assert.Equal(7, s.GapCodes);
        Assert.Equal(21, s.GapStreamBits);
        Assert.Equal(6, s.IndexBits);
        Assert.Equal(128, s.CodebookBits);
        Assert.Equal(160, s.DenseBytes);
        Assert.Equal((96 + 21 + 7) / 8, s.PrunedBytes);
        Assert.Equal((6 + 21 + 128 + 7) / 8, s.QuantizedBytes);
        // Indices {0, 1, 3} once each → lengths 2, 2, 1 = 5 bits. Gap codes 0×4, 1, 5, 6 → lengths 1, 3, 3, 2 = 12 bits.
        Assert.Equal(5, s.HuffmanIndexBits);
        Assert.Equal(12, s.HuffmanGapBits);
        Assert.Equal(8 * 4 + 8 * 8, s.HuffmanTableBits);
        Assert.Equal((5 + 12 + 128 + 96 + 7) / 8, s.HuffmanBytes);
    }

    [Fact]
    public void DenseTensorHasNoIndex()
    {
        var shared = WeightSharing.Cluster(QuantizationTestData.Normal(100, seed: 5), 4);
        var s = CompressionSizes.Measure("w", shared, gapBits: 5);
        Assert.Equal(0, s.GapBits);
        Assert.Equal(0, s.GapCodes);
        Assert.Equal(400, s.PrunedBytes);
        Assert.Equal((400 + 16 * 32 + 7) / 8, s.QuantizedBytes);
    }

    [Fact]
    public void EachStageShrinksAPrunedSharedMlp()
    {
        var model = Mlp("mlp:784-64-10", seed: 4);
        Pruner.Prune(model, new PruneOptions { Sparsity = 0.9 });
        var result = WeightSharing.Apply(model, 4);
        var sizes = CompressionSizes.Measure(result);

        Assert.Equal(2, sizes.Tensors.Count);
        Assert.Equal(4L * (784 * 64 + 64 * 10), sizes.DenseBytes);
        Assert.All(sizes.Tensors, t => Assert.Equal(SparseIndex.FcGapBits, t.GapBits));
        var first = sizes.Tensors[0];
        Assert.Equal(result.Entries[0].Shared.NonZeros, first.NonZeros);
        Assert.Equal(first.NonZeros * 4L, first.IndexBits);
        Assert.True(sizes.PrunedRatio > 1);
        Assert.True(sizes.QuantizedRatio > sizes.PrunedRatio);
        Assert.True(sizes.HuffmanRatio > sizes.QuantizedRatio);
        Assert.True(first.HuffmanGapBits < first.GapStreamBits && first.HuffmanIndexBits < first.IndexBits);
        Assert.Equal((double)sizes.DenseBytes / sizes.HuffmanBytes, sizes.HuffmanRatio);
    }
}
