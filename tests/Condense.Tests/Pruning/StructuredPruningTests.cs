// Structured neuron removal against a zero-masked dense oracle: the smaller model computes what the
// original computes with the removed neurons' rows and biases zeroed; shapes, ranking and skips.
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Tensors;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class StructuredPruningTests
{
    [Theory]
    [InlineData("mlp:784-30-20-10", 0.5, NeuronNorm.L2)]
    [InlineData("mlp:784-33-7-10", 0.3, NeuronNorm.L1)]
    [InlineData("mlp:784-33-7-10,act=tanh", 0.7, NeuronNorm.L2)]
    public void SmallerModelMatchesTheZeroMaskedDenseModel(string spec, double ratio, NeuronNorm norm)
    {
        var model = Mlp(spec, seed: 3);
        var original = Snapshot(model);
        var shapes = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Shape.ToArray());
        int[] sizes = ModelSpec.Parse(spec).Sizes;

        var result = StructuredPruning.Remove(model, ratio, norm);

        // The input model is untouched, and the result shares no tensor with it.
        foreach (var (name, p) in model.NamedParameters())
        {
            AssertBitEqual(original[name], p.Data, name);
            Assert.Equal(shapes[name], p.Shape);
            Assert.DoesNotContain(result.Model.NamedParameters(), q => ReferenceEquals(q.Parameter.Data, p.Data));
        }

        // Shapes: each hidden layer loses round(ratio·n) outputs, the next layer as many inputs; the last layer keeps its outputs.
        int hidden = sizes.Length - 2;
        Assert.Equal(hidden, result.Changes.Count);
        var removed = new int[sizes.Length];
        for (int l = 1; l <= hidden; l++) removed[l] = (int)Math.Round(ratio * sizes[l], MidpointRounding.AwayFromZero);
        for (int l = 0; l + 1 < sizes.Length; l++)
        {
            string w = $"{2 * l + 1}.weight";
            Assert.Equal([sizes[l + 1] - removed[l + 1], sizes[l] - removed[l]], Param(result.Model, w).Shape);
            Assert.Equal([sizes[l + 1] - removed[l + 1]], Param(result.Model, $"{2 * l + 1}.bias").Shape);
        }
        for (int l = 1; l <= hidden; l++)
        {
            var c = result.Changes[l - 1];
            Assert.Equal([$"{2 * l - 1}.weight"], c.Layers);
            Assert.Equal(removed[l], c.Removed);
            // The layer's weight and bias, and the next layer's weight, each listed once with its new shape.
            Assert.Equal(new[] { $"{2 * l - 1}.weight", $"{2 * l - 1}.bias", $"{2 * l + 1}.weight" }.Order(), c.Tensors.Select(t => t.Name).Order());
            Assert.All(c.Tensors, t => Assert.Equal(Param(result.Model, t.Name).Shape, t.NewShape));
        }
        Assert.Contains(result.Skipped, s => s.StartsWith($"{2 * sizes.Length - 3}.weight", StringComparison.Ordinal) && s.Contains("model output"));

        // Which neurons stayed: match every new row to an original row, restricted to the inputs kept before it.
        var oracle = Mlp(spec, seed: 3);
        int[] keptInputs = Enumerable.Range(0, sizes[0]).ToArray();
        for (int l = 0; l < hidden; l++)
        {
            string w = $"{2 * l + 1}.weight", b = $"{2 * l + 1}.bias";
            int rows = sizes[l + 1], cols = sizes[l];
            var kept = KeptRows(original[w], rows, cols, keptInputs, Param(result.Model, w).Data);
            Assert.Equal(rows - removed[l + 1], kept.Length);
            Assert.Equal(kept.Select(r => original[b][r]), Param(result.Model, b).Data);
            // The kept neurons are the strongest by the chosen norm of their original weights.
            var score = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, cols).Sum(c => norm == NeuronNorm.L1
                ? Math.Abs((double)original[w][r * cols + c]) : (double)original[w][r * cols + c] * original[w][r * cols + c])).ToArray();
            double minKept = kept.Min(r => score[r]);
            Assert.All(Enumerable.Range(0, rows).Except(kept), r => Assert.True(score[r] <= minKept));
            // The oracle: zero the removed rows and their biases in the dense original.
            var ow = Param(oracle, w).Data;
            var ob = Param(oracle, b).Data;
            foreach (int r in Enumerable.Range(0, rows).Except(kept))
            {
                Array.Clear(ow, r * cols, cols);
                ob[r] = 0f;
            }
            Param(oracle, w).MarkModified();
            Param(oracle, b).MarkModified();
            keptInputs = kept;
        }

        var x = RandomInput(17, sizes[0], 11);
        model.Eval(); oracle.Eval(); result.Model.Eval();
        var expected = oracle.Forward(x).Data;
        var actual = result.Model.Forward(x).Data;
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f, $"output {i}: {expected[i]} vs {actual[i]}");
        // Sanity: the oracle really differs from the unpruned model.
        var dense = model.Forward(x).Data;
        Assert.Contains(Enumerable.Range(0, dense.Length), i => MathF.Abs(dense[i] - expected[i]) > 1e-3f);
    }

    // For each row of `pruned` (restricted to the inputs `cols` kept), the index of the original row equal to it.
    private static int[] KeptRows(float[] original, int rows, int width, int[] cols, float[] pruned)
    {
        int n = pruned.Length / cols.Length;
        var kept = new int[n];
        for (int k = 0; k < n; k++)
        {
            var matches = Enumerable.Range(0, rows).Where(r => cols
                .Select((c, j) => BitConverter.SingleToInt32Bits(original[r * width + c]) == BitConverter.SingleToInt32Bits(pruned[k * cols.Length + j]))
                .All(e => e)).ToList();
            Assert.Single(matches);
            kept[k] = matches[0];
        }
        Assert.Equal(kept.Order(), kept); // order preserved
        return kept;
    }

    [Theory]
    [InlineData(NeuronNorm.L1, 1)]
    [InlineData(NeuronNorm.L2, 0)]
    public void NormChoosesTheRowsWithTheLargestNorm(NeuronNorm norm, int keptRow)
    {
        // Row 0 = (3, 0, 0, 0): L1 3, L2 3. Row 1 = (1, 1, 1, -1): L1 4, L2 2. The norms disagree.
        var model = Mlp("mlp:4-2-3");
        float[] w = [3, 0, 0, 0, 1, 1, 1, -1];
        SetData(model, "1.weight", w);
        var next = (float[])Param(model, "3.weight").Data.Clone();
        var result = StructuredPruning.Remove(model, 0.5, norm);
        Assert.Equal(w[(keptRow * 4)..(keptRow * 4 + 4)], Param(result.Model, "1.weight").Data);
        Assert.Equal([Param(model, "1.bias").Data[keptRow]], Param(result.Model, "1.bias").Data);
        Assert.Equal([next[keptRow], next[2 + keptRow], next[4 + keptRow]], Param(result.Model, "3.weight").Data);
    }

    [Fact]
    public void SigmoidBetweenLayersIsSkipped()
    {
        var rng = new Rng(4);
        var model = From(
            new Sequential(new Flatten(), new Linear(8, 6, rng: rng), new ReLU(), new Linear(6, 5, rng: rng), new Sigmoid(), new Linear(5, 3, rng: rng)), 8);
        var result = StructuredPruning.Remove(model, 0.5);
        var change = Assert.Single(result.Changes);
        Assert.Equal(["1.weight"], change.Layers);
        Assert.Equal([3, 8], change.Tensors.Single(t => t.Name == "1.weight").NewShape);
        Assert.Equal([5, 3], change.Tensors.Single(t => t.Name == "3.weight").NewShape);
        Assert.Contains(result.Skipped, s => s.StartsWith("3.weight", StringComparison.Ordinal) && s.Contains("Sigmoid"));
        Assert.Equal([5, 3], Param(result.Model, "3.weight").Shape);
        Assert.Equal([3, 5], Param(result.Model, "5.weight").Shape);
    }

    [Fact]
    public void RatioValidationAndAtLeastOneNeuronStays()
    {
        Assert.Throws<CondenseException>(() => StructuredPruning.Remove(Mlp("mlp:4-2-3"), 1.0));
        Assert.Throws<CondenseException>(() => StructuredPruning.Remove(Mlp("mlp:4-2-3"), -0.1));
        var result = StructuredPruning.Remove(Mlp("mlp:4-3-3"), 0.99);
        Assert.Equal([1, 4], Param(result.Model, "1.weight").Shape);
        var none = StructuredPruning.Remove(Mlp("mlp:4-3-3"), 0.1);
        Assert.Empty(none.Changes);
        Assert.Contains(none.Skipped, s => s.Contains("nothing to remove"));
    }
}
