// The mask rules against independent oracles: the threshold rule element by element, exact sparsity
// counts on ragged sizes, one global threshold, seeded random masks, tensor selection by pattern,
// and the N:M pattern checked group by group.
using Condense.Pruning;
using Condense.Tensors;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class MaskTests
{
    private static readonly double[] Sparsities = [0, 0.1, 0.5, 0.9, 0.95, 0.98, 1];

    [Fact]
    public void ThresholdZeroesExactlyBelowAndLeavesTheRestBitIdentical()
    {
        const float t = 0.5f;
        float below = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(t) - 1); // the float just under t
        float[] w1 = [0.5f, -0.5f, below, -below, 0f, -0.2f, 0.2f, 1e-30f, -3f, 7.25f, 0.50000006f, -1e-45f];
        float[] w2 = [0f, 0f, -0.75f, 0.49f, 2f, float.Epsilon];
        var model = Mlp("mlp:4-3-2");
        SetData(model, "1.weight", w1);
        SetData(model, "3.weight", w2);
        var before = Snapshot(model);

        var masks = Pruner.Prune(model, new PruneOptions { Method = PruneMethod.Threshold, Threshold = t });

        Assert.Equal(["1.weight", "3.weight"], masks.Entries.Select(e => e.Target.Name));
        foreach (var name in new[] { "1.weight", "3.weight" })
        {
            var original = before[name];
            var now = Param(model, name).Data;
            for (int i = 0; i < original.Length; i++)
            {
                if (MathF.Abs(original[i]) < t) Assert.True(now[i] == 0f, $"{name}[{i}] = {original[i]:R} should be pruned");
                else AssertBitEqual([original[i]], [now[i]], $"{name}[{i}]");
            }
        }
        // Hand-counted: w1 keeps 0.5, -0.5, -3, 7.25, 0.50000006; w2 keeps -0.75 and 2.
        Assert.Equal(5, 12 - Zeros(Param(model, "1.weight").Data));
        Assert.Equal(2, 6 - Zeros(Param(model, "3.weight").Data));
        AssertBitEqual(before["1.bias"], Param(model, "1.bias").Data, "1.bias");
        AssertBitEqual(before["3.bias"], Param(model, "3.bias").Data, "3.bias");
    }

    [Fact]
    public void ThresholdZeroKeepsEverything()
    {
        float[] w = [0f, -0f, 1e-45f, -2f];
        // |0| < 0 is false: the rule keeps zeros at threshold 0 (they are zero anyway).
        Assert.All(Masks.Threshold(w, 0f), m => Assert.Equal(1f, m));
    }

    [Fact]
    public void ThresholdValidation()
    {
        Assert.Throws<CondenseException>(() => new PruneOptions { Method = PruneMethod.Threshold, Threshold = -1f }.Validate());
        Assert.Throws<CondenseException>(() => new PruneOptions { Method = PruneMethod.Threshold, Threshold = float.NaN }.Validate());
        Assert.Throws<CondenseException>(() => new PruneOptions { Method = PruneMethod.Threshold, Threshold = 1f, Global = true }.Validate());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(300 * 784)]
    public void MagnitudeHitsTheTargetExactlyAndPrunesTheSmallest(int n)
    {
        var w = RaggedWeights(n, (ulong)n);
        foreach (double s in Sparsities)
        {
            var mask = Masks.Magnitude(w, s);
            Assert.Equal(n, mask.Length);
            Assert.All(mask, m => Assert.True(m is 0f or 1f));
            Assert.Equal(Expected(s, n), Zeros(mask));
            float maxPruned = float.NegativeInfinity, minKept = float.PositiveInfinity;
            for (int i = 0; i < n; i++)
                if (mask[i] == 0f) maxPruned = MathF.Max(maxPruned, MathF.Abs(w[i]));
                else minKept = MathF.Min(minKept, MathF.Abs(w[i]));
            Assert.True(maxPruned <= minKept, $"n={n} s={s}: pruned |w| {maxPruned} above kept {minKept}");
            Assert.Equal(mask, Masks.Magnitude(w, s));
        }
    }

    [Fact]
    public void MagnitudeBreaksTiesByPosition()
    {
        float[] w = [2f, -1f, 1f, 3f, -1f, 1f, 0.5f];
        // 0.5 first, then the four |w| = 1 in position order: 1, 2, 4, 5.
        Assert.Equal([1f, 0f, 0f, 1f, 1f, 1f, 0f], Masks.Magnitude(w, 3 / 7.0));
        Assert.Equal([1f, 0f, 0f, 1f, 0f, 1f, 0f], Masks.Magnitude(w, 4 / 7.0));
        float[] same = Enumerable.Repeat(0.25f, 10).ToArray();
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 1f, 1f, 1f, 1f, 1f], Masks.Magnitude(same, 0.5));
    }

    [Fact]
    public void PerTensorMagnitudeThroughThePrunerChangesOnlyPrunedWeights()
    {
        var model = Mlp("mlp:784-300-10");
        var before = Snapshot(model);
        var masks = Pruner.Prune(model, new PruneOptions { Sparsity = 0.9 });
        Assert.Equal(["1.weight", "3.weight"], masks.Entries.Select(e => e.Target.Name));
        foreach (var (target, mask) in masks.Entries)
        {
            Assert.Equal(Expected(0.9, target.Parameter.Size), Zeros(mask));
            var original = before[target.Name];
            for (int i = 0; i < mask.Length; i++)
                if (mask[i] == 0f) Assert.Equal(0f, target.Parameter.Data[i]);
                else AssertBitEqual([original[i]], [target.Parameter.Data[i]], target.Name);
        }
        AssertBitEqual(before["1.bias"], Param(model, "1.bias").Data, "1.bias");
    }

    [Fact]
    public void GlobalMagnitudeUsesOneThresholdAcrossTensors()
    {
        foreach (double s in new[] { 0.1, 0.5, 0.9, 0.98 })
        {
            var model = Mlp();
            var before = Snapshot(model);
            var masks = Pruner.Prune(model, new PruneOptions { Sparsity = s, Global = true });
            long total = masks.Entries.Sum(e => (long)e.Mask.Length);
            Assert.Equal(23520 + 600 + 200, total);
            Assert.Equal(Expected(s, total), masks.Entries.Sum(e => Zeros(e.Mask)));
            float maxPruned = 0f, minKept = float.PositiveInfinity;
            foreach (var (target, mask) in masks.Entries)
                for (int i = 0; i < mask.Length; i++)
                {
                    float a = MathF.Abs(before[target.Name][i]);
                    if (mask[i] == 0f) maxPruned = MathF.Max(maxPruned, a);
                    else minKept = MathF.Min(minKept, a);
                }
            Assert.True(maxPruned <= minKept, $"s={s}: pruned {maxPruned} > kept {minKept}");
            // The 784-input layer starts with the smallest weights (bound 1/28), so it loses the most.
            var sparsity = masks.Entries.ToDictionary(e => e.Target.Name, e => Masks.Sparsity(e.Mask));
            Assert.True(sparsity["1.weight"] > sparsity["3.weight"] && sparsity["1.weight"] > sparsity["5.weight"],
                $"s={s}: {string.Join(", ", sparsity)}");
        }
    }

    [Fact]
    public void RandomPruningIsExactAndSeeded()
    {
        MaskSet Run(ulong seed, bool global = false) =>
            Pruner.ComputeMasks(Mlp(), new PruneOptions { Method = PruneMethod.Random, Sparsity = 0.7, Seed = seed, Global = global });
        var a = Run(3);
        foreach (var (target, mask) in a.Entries) Assert.Equal(Expected(0.7, mask.Length), Zeros(mask));
        var again = Run(3);
        var other = Run(4);
        for (int i = 0; i < a.Entries.Count; i++)
        {
            Assert.Equal(a.Entries[i].Mask, again.Entries[i].Mask);
            Assert.NotEqual(a.Entries[i].Mask, other.Entries[i].Mask);
        }
        var global = Run(3, global: true);
        Assert.Equal(Expected(0.7, 24320), global.Entries.Sum(e => Zeros(e.Mask)));
        Assert.Equal(global.Entries.Select(e => e.Mask), Run(3, global: true).Entries.Select(e => e.Mask));

        var direct = Masks.Random(33, 0.5, new Rng(9));
        Assert.Equal(Expected(0.5, 33), Zeros(direct));
        Assert.Equal(direct, Masks.Random(33, 0.5, new Rng(9)));
    }

    [Fact]
    public void BiasesAreLeftAloneUnlessIncluded()
    {
        var model = Mlp();
        var before = Snapshot(model);
        Pruner.Prune(model, new PruneOptions { Sparsity = 0.5 });
        foreach (var bias in new[] { "1.bias", "3.bias", "5.bias" }) AssertBitEqual(before[bias], Param(model, bias).Data, bias);

        var withBiases = Mlp();
        var masks = Pruner.Prune(withBiases, new PruneOptions { Sparsity = 0.5, IncludeBiases = true });
        Assert.Equal(["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"], masks.Entries.Select(e => e.Target.Name));
        Assert.Equal(15, Zeros(Param(withBiases, "1.bias").Data));
        Assert.Equal(10, Zeros(Param(withBiases, "3.bias").Data));
        Assert.Equal(5, Zeros(Param(withBiases, "5.bias").Data));
    }

    [Theory]
    [InlineData(new[] { "1.*" }, new string[0], false, new[] { "1.weight" })]
    [InlineData(new[] { "?.weight" }, new string[0], false, new[] { "1.weight", "3.weight", "5.weight" })]
    [InlineData(new string[0], new[] { "5.*" }, false, new[] { "1.weight", "3.weight" })]
    [InlineData(new[] { "*" }, new[] { "*.weight" }, true, new[] { "1.bias", "3.bias", "5.bias" })]
    [InlineData(new[] { "?.bias", "3.w*" }, new[] { "1?bias" }, true, new[] { "3.weight", "3.bias", "5.bias" })]
    [InlineData(new[] { "weight" }, new string[0], false, new string[0])]
    public void PatternsSelectTensors(string[] include, string[] exclude, bool biases, string[] expected)
    {
        var options = new PruneOptions { Include = include, Exclude = exclude, IncludeBiases = biases };
        if (expected.Length == 0)
        {
            var e = Assert.Throws<CondenseException>(() => Prunable.Find(Mlp(), options));
            Assert.Contains("no tensor to prune", e.Message);
            Assert.Throws<CondenseException>(() => Pruner.Prune(Mlp(), options));
            return;
        }
        Assert.Equal(expected, Prunable.Find(Mlp(), options).Select(t => t.Name));
        var model = Mlp();
        var before = Snapshot(model);
        Pruner.Prune(model, options with { Sparsity = 0.5 });
        foreach (var (name, data) in before)
            if (expected.Contains(name)) Assert.Equal(Expected(0.5, data.Length), Zeros(Param(model, name).Data));
            else AssertBitEqual(data, Param(model, name).Data, name);
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(1, 4)]
    [InlineData(3, 8)]
    public void NMKeepsTheLargestInEveryGroup(int n, int m)
    {
        // Input widths 7, 5 and 33 leave a short last group in every layer.
        var model = Mlp("mlp:7-5-33-3", seed: 2);
        var before = Snapshot(model);
        var masks = Pruner.Prune(model, new PruneOptions { Method = PruneMethod.NM, N = n, M = m });
        Assert.Equal(3, masks.Entries.Count);
        foreach (var (target, _) in masks.Entries)
        {
            int rows = target.Parameter.Shape[0], cols = target.Parameter.Shape[1];
            var original = before[target.Name];
            var now = target.Parameter.Data;
            for (int r = 0; r < rows; r++)
                for (int start = 0; start < cols; start += m)
                {
                    int len = Math.Min(m, cols - start);
                    var kept = new List<float>();
                    var pruned = new List<float>();
                    for (int j = start; j < start + len; j++)
                    {
                        int i = r * cols + j;
                        if (now[i] != 0f) { AssertBitEqual([original[i]], [now[i]], target.Name); kept.Add(MathF.Abs(original[i])); }
                        else pruned.Add(MathF.Abs(original[i]));
                    }
                    Assert.True(kept.Count == Math.Min(n, len), $"{target.Name} row {r} group at {start}: {kept.Count} kept");
                    if (kept.Count > 0 && pruned.Count > 0) Assert.True(kept.Min() >= pruned.Max());
                }
        }
    }

    [Fact]
    public void NMOnColumnLayoutAndTies()
    {
        // A (in=6, out=2) MatMul-style layout: the input index is the row, so a group runs down a column.
        float[] w = [1, -9, 5, 8, -5, 7, 2, 6, 0, 5, 3, -6];
        var mask = Masks.NM(w, outputs: 2, inputs: 6, (o, i) => i * 2 + o, n: 2, m: 4);
        // Output 0 reads 1, 5, -5, 2 | 0, 3: keeps 5 and -5 (tie, both), then 3 and 0.
        // Output 1 reads -9, 8, 7, 6 | 5, -6: keeps -9, 8, then -6 and 5.
        Assert.Equal([0f, 1f, 1f, 1f, 1f, 0f, 0f, 0f, 1f, 1f, 1f, 1f], mask);
        float[] ties = [1, 1, 1, 1, 1];
        Assert.Equal([1f, 1f, 0f, 0f, 1f], Masks.NM(ties, 1, 5, (o, i) => i, 2, 4));
    }

    [Fact]
    public void OptionValidation()
    {
        foreach (var bad in new[]
        {
            new PruneOptions { Sparsity = 1.5 }, new PruneOptions { Sparsity = -0.1 }, new PruneOptions { Sparsity = double.NaN },
            new PruneOptions { Method = PruneMethod.Random, Sparsity = 2 },
            new PruneOptions { Method = PruneMethod.NM, N = 5, M = 4 }, new PruneOptions { Method = PruneMethod.NM, N = 1, M = 0 },
            new PruneOptions { Method = PruneMethod.NM, Global = true },
            new PruneOptions { PerTensorSparsity = new Dictionary<string, double> { ["1.weight"] = 1.2 } },
        })
            Assert.Throws<CondenseException>(() => Pruner.Prune(Mlp(), bad));
    }
}
