// Weight sharing of single tensors and of a model: at most 2^b shared values, pruned zeros kept exactly,
// reconstruction = centroids[index]; Apply writes the shared values into the model and leaves biases alone.
using Condense.DeepCompression;
using Condense.Pruning;
using Condense.Quantization;
using static Condense.Tests.Pruning.PruningTestModels;
using static Condense.Tests.Quantization.QuantizationTestData;

namespace Condense.Tests.DeepCompression;

public sealed class WeightSharingTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(8)]
    public void ClustersIntoAtMostTwoToTheBitsValuesAndKeepsZeros(int bits)
    {
        var w = Pruned(1031, 0.6, seed: (ulong)bits);
        var shared = WeightSharing.Cluster(w, bits);
        Assert.Equal(bits, shared.Bits);
        Assert.True(shared.Centroids.Length <= 1 << bits);
        var r = shared.Reconstruct();
        for (int i = 0; i < w.Length; i++)
        {
            Assert.Equal(w[i] != 0f, shared.Mask[i]);
            if (w[i] == 0f) Assert.Equal(0, BitConverter.SingleToInt32Bits(r[i])); // +0, exactly
        }
        Assert.True(Distinct(r.Where(v => v != 0f).ToArray()) <= 1 << bits);
        Assert.Equal(w.Count(v => v != 0f), shared.NonZeros);
        // Reconstruct is centroids[index] at the kept positions, in order.
        var kept = shared.KeptPositions();
        for (int n = 0; n < kept.Length; n++) Assert.Equal(shared.Centroids[shared.Indices[n]], r[kept[n]]);
        // Every weight went to its nearest centroid.
        for (int n = 0; n < kept.Length; n++)
            Assert.Equal(KMeans.Nearest(shared.Centroids, w[kept[n]]), shared.Indices[n]);
    }

    [Fact]
    public void ReconstructIsCentroidOfIndexAndZeroWherePruned()
    {
        var shared = new SharedWeights([-0.5f, 0.25f, 1f], [2, 0, 0, 1], [true, false, true, true, false, true], bits: 2);
        Assert.Equal([1f, 0f, -0.5f, -0.5f, 0f, 0.25f], shared.Reconstruct());
        Assert.Equal([0, 2, 3, 5], shared.KeptPositions());
        Assert.Throws<ArgumentException>(() => new SharedWeights([0f], [0, 1], [true, true], 1));
        Assert.Throws<ArgumentException>(() => new SharedWeights([0f, 1f], [0], [true, true], 1));
    }

    [Fact]
    public void AllZeroAndTinyTensors()
    {
        var zeros = WeightSharing.Cluster(new float[9], 3);
        Assert.Equal(0, zeros.NonZeros);
        Assert.All(zeros.Reconstruct(), v => Assert.Equal(0f, v));
        var one = WeightSharing.Cluster([0f, 0.7f, 0f], 2);
        Assert.Equal([0f, 0.7f, 0f], one.Reconstruct());
    }

    [Fact]
    public void ApplySharesEveryWeightTensorAndLeavesBiases()
    {
        var model = Mlp("mlp:784-30-20-10");
        Pruner.Prune(model, new PruneOptions { Sparsity = 0.7 });
        var before = Snapshot(model);
        var result = WeightSharing.Apply(model, 4);
        Assert.Equal(4, result.Bits);
        Assert.Equal(3, result.Entries.Count);
        foreach (var (target, shared) in result.Entries)
        {
            Assert.False(target.IsBias);
            AssertBitEqual(shared.Reconstruct(), target.Parameter.Data, target.Name);
            Assert.True(Distinct(target.Parameter.Data) <= 16 + 1);
            Assert.Equal(Zeros(before[target.Name]), Zeros(target.Parameter.Data));
        }
        foreach (var (name, p) in model.NamedParameters().Where(p => result.Entries.All(e => e.Target.Name != p.Name)))
            AssertBitEqual(before[name], p.Data, name);
    }

    [Fact]
    public void ApplyHonoursIncludePatternsAndValidatesBits()
    {
        var model = Mlp("mlp:784-30-20-10");
        var all = WeightSharing.Apply(Mlp("mlp:784-30-20-10"), 2).Entries.Select(e => e.Target.Name).ToList();
        var result = WeightSharing.Apply(model, 2, [all[1]]);
        Assert.Equal([all[1]], result.Entries.Select(e => e.Target.Name));
        Assert.Throws<CondenseException>(() => WeightSharing.Apply(model, 1));
        Assert.Throws<CondenseException>(() => WeightSharing.Apply(model, 9));
    }
}
