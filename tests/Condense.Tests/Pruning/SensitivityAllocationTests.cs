// Sensitivity allocation (Pruning/SensitivityAllocation.cs): the greedy spending of a sparsity budget against a brute-force
// search over every combination of steps, and through Pruner on an MLP against curves measured here by an independent loop
// (each tensor masked alone by magnitude, the outputs' cosine computed in double). Every random draw has a seed.
using Condense.Graph;
using Condense.Pruning;
using Condense.Tensors;
using Xunit.Abstractions;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Pruning;

public sealed class SensitivityAllocationTests(ITestOutputHelper output)
{
    private static readonly IReadOnlyList<double> Grid = SensitivityAllocation.Grid;
    private const int Steps = SensitivityAllocation.StepsPerUnit;

    [Theory]
    [InlineData(0.5, 1UL)]
    [InlineData(0.3, 2UL)]
    [InlineData(0.7, 3UL)]
    public void GreedyIsWithinOneStepOfTheBestCombinationOnConvexCurves(double target, ulong seed)
    {
        var rng = new Rng(seed);
        // Convex, rising curves: loss = a·s^p with p in [1.5, 4], a in [0.01, 1]; tensors of unequal sizes.
        var curves = Enumerable.Range(0, 3).Select(i =>
        {
            double a = 0.01 + rng.NextFloat(), p = 1.5 + 2.5 * rng.NextFloat();
            return new SensitivityCurve($"t{i}", 100 + (long)(rng.NextFloat() * 900), [.. Grid.Select(s => a * Math.Pow(s, p))]);
        }).ToList();
        var chosen = SensitivityAllocation.Allocate(curves, target);

        // Every combination of steps up to the cap, by the same linear interpolation, written out here.
        int cap = (int)Math.Floor(Grid[^1] * Steps + 1e-9);
        var losses = curves.Select(c => Enumerable.Range(0, cap + 1).Select(k => Interpolate(c.Losses, (double)k / Steps)).ToArray()).ToArray();
        double total = curves.Sum(c => (double)c.Parameters), goal = target * total;
        double best = double.PositiveInfinity;
        for (int a = 0; a <= cap; a++)
            for (int b = 0; b <= cap; b++)
            {
                double have = (a * curves[0].Parameters + b * curves[1].Parameters) / (double)Steps;
                // The least c that meets the goal is the best c for this (a, b): the loss rises with c.
                int c = (int)Math.Ceiling((goal - have) * Steps / curves[2].Parameters - 1e-9);
                if (c > cap) continue;
                c = Math.Max(c, 0);
                best = Math.Min(best, losses[0][a] + losses[1][b] + losses[2][c]);
            }
        double greedy = curves.Select((c, i) => losses[i][(int)Math.Round(chosen[c.Tensor] * Steps)]).Sum();
        double maxStepRise = losses.Max(l => l.Zip(l.Skip(1)).Max(p => p.Second - p.First));
        double achieved = curves.Sum(c => chosen[c.Tensor] * c.Parameters) / total;
        output.WriteLine($"target {target}: greedy loss {greedy:F5}, best {best:F5}, sparsity {achieved:F5} "
            + string.Join(" ", chosen.Select(kv => $"{kv.Key}={kv.Value:F3}")));
        Assert.InRange(greedy, best - 1e-12, best + maxStepRise);
        Assert.InRange(achieved, target - 1e-9, target + curves.Max(c => c.Parameters) / (double)Steps / total);
        Assert.All(chosen.Values, s => Assert.Equal(s * Steps, Math.Round(s * Steps), 9));
    }

    [Fact]
    public void AFreeTensorGoesToTheCapACostlyOneGetsTheLeastAndTheBudgetIsMet()
    {
        var curves = new[]
        {
            new SensitivityCurve("free", 1024, [.. Grid.Select(_ => 0.0)]),
            new SensitivityCurve("costly", 1024, [.. Grid.Select(s => s * s)]),
            new SensitivityCurve("cheap", 2048, [.. Grid.Select(s => 0.01 * s * s)]),
        };
        var chosen = SensitivityAllocation.Allocate(curves, 0.5);
        Assert.Equal(115.0 / 128, chosen["free"]);
        Assert.True(chosen["cheap"] > chosen["costly"], $"cheap {chosen["cheap"]} costly {chosen["costly"]}");
        // The budget is met, and overshot by less than one step of the largest tensor (2048 / 128).
        Assert.InRange(curves.Sum(c => chosen[c.Tensor] * c.Parameters), 0.5 * 4096, 0.5 * 4096 + 16 - 1e-9);
        Assert.All(SensitivityAllocation.Allocate(curves, 0).Values, s => Assert.Equal(0, s));
        Assert.StartsWith("sensitivity allocation gives no tensor more than 89.8 %", Assert.Throws<CondenseException>(
            () => SensitivityAllocation.Allocate(curves, 0.95)).Message);
    }

    [Fact]
    public void OptionsThatDoNotFitAreOneLineErrors()
    {
        var sensitivity = new PruneOptions { Allocation = SparsityAllocation.Sensitivity };
        Assert.Equal("sensitivity allocation spreads an unstructured sparsity per tensor, not NM",
            Assert.Throws<CondenseException>(() => (sensitivity with { Method = PruneMethod.NM }).Validate()).Message);
        Assert.Equal("sensitivity allocation spreads an unstructured sparsity per tensor, not a global ranking",
            Assert.Throws<CondenseException>(() => (sensitivity with { Global = true }).Validate()).Message);
        Assert.Equal("sensitivity allocation gives no tensor more than 90 %: a sparsity of 95 % is out of its reach",
            Assert.Throws<CondenseException>(() => (sensitivity with { Sparsity = 0.95 }).Validate()).Message);
        Assert.Equal("sensitivity samples must be at least 1, got 0",
            Assert.Throws<CondenseException>(() => (sensitivity with { SensitivitySamples = 0 }).Validate()).Message);
        Assert.Equal("sensitivity allocation needs calibration data",
            Assert.Throws<CondenseException>(() => Pruner.Prune(PruningTestModels.Mlp("mlp:24-16-8", seed: 5), sensitivity)).Message);
    }

    [Fact]
    public void PrunerSpendsTheBudgetByCurvesMeasuredByAnIndependentLoop()
    {
        var model = PruningTestModels.Mlp("mlp:24-32-16-8", seed: 61);
        var batches = Enumerable.Range(0, 3).Select(b => NaivePruning.Correlated(32, 24, 62 + (ulong)b)).ToList();
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration =
            () => batches.Select(x => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["input"] = x });
        var original = PruningTestModels.Snapshot(model);
        var options = new PruneOptions { Sparsity = 0.5, Allocation = SparsityAllocation.Sensitivity, SensitivitySamples = 2 };

        // The oracle: each weight masked alone by magnitude at each grid point, 1 − mean cosine of the outputs on the first two
        // batches, in double; then the same greedy spending.
        var targets = Prunable.Find(model, options);
        var reference = batches.Take(2).Select(x => Forward(model, x)).ToList();
        var curves = targets.Select(t => new SensitivityCurve(t.Name, t.Parameter.Size, [.. Grid.Select(s =>
        {
            var mask = Masks.Magnitude(original[t.Name], s);
            PruningTestModels.SetData(model, t.Name, [.. original[t.Name].Select((w, i) => w * mask[i])]);
            double loss = 1 - batches.Take(2).Select((x, i) => Cosine(Forward(model, x), reference[i])).Average();
            PruningTestModels.SetData(model, t.Name, original[t.Name]);
            return loss;
        })])).ToList();
        var expected = SensitivityAllocation.Allocate(curves, 0.5);
        output.WriteLine(string.Join("\n", curves.Select(c => $"{c.Tensor} ({c.Parameters}): {string.Join(" ", c.Losses.Select(l => l.ToString("F4")))} "
            + $"→ {expected[c.Tensor]:F3}")));

        var computed = Pruner.ComputeMasks(model, options, calibration);
        Assert.All(original, p => PruningTestModels.AssertBitEqual(p.Value, PruningTestModels.Param(model, p.Key).Data, p.Key));
        var masks = Pruner.Prune(model, options, calibration);
        Assert.Equal(computed.Entries.Select(e => e.Mask), masks.Entries.Select(e => e.Mask));
        foreach (var (target, mask) in masks.Entries)
        {
            Assert.Equal(Masks.Magnitude(original[target.Name], expected[target.Name]), mask);
            Assert.Equal(PruningTestModels.Expected(expected[target.Name], target.Parameter.Size), PruningTestModels.Zeros(target.Parameter.Data));
        }
        Assert.True(expected.Values.Distinct().Count() > 1, "every tensor got the same sparsity: the test shows nothing");
        long size = targets.Sum(t => (long)t.Parameter.Size);
        Assert.InRange(masks.Sparsity, 0.5 - 0.5 / size, 0.5 + targets.Max(t => t.Parameter.Size) / (double)Steps / size + 1.0 / size);

        // Spent by sensitivity, the same budget loses less of the outputs than spent evenly (on held-out inputs).
        var heldOut = NaivePruning.Correlated(64, 24, 70);
        var dense = Forward(PruningTestModels.Mlp("mlp:24-32-16-8", seed: 61), heldOut);
        var uniform = PruningTestModels.Mlp("mlp:24-32-16-8", seed: 61);
        Pruner.Prune(uniform, options with { Allocation = SparsityAllocation.Uniform }, calibration);
        double uniformCosine = Cosine(Forward(uniform, heldOut), dense), allocatedCosine = Cosine(Forward(model, heldOut), dense);
        output.WriteLine($"held-out cosine: uniform {uniformCosine:F4}, by sensitivity {allocatedCosine:F4}");
        Assert.True(allocatedCosine > uniformCosine, $"uniform {uniformCosine:F4}, by sensitivity {allocatedCosine:F4}");
    }

    private static double Interpolate(IReadOnlyList<double> losses, double s)
    {
        double x0 = 0, y0 = 0;
        for (int i = 0; i < Grid.Count; i++)
        {
            if (s <= Grid[i] + 1e-12) return y0 + (losses[i] - y0) * (s - x0) / (Grid[i] - x0);
            (x0, y0) = (Grid[i], losses[i]);
        }
        return y0;
    }

    private static float[] Forward(GraphModule model, Tensor x)
    {
        model.Eval();
        return model.Forward(x).Data;
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }
}
