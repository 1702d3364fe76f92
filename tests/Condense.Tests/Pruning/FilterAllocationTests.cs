// Filter ratios spread by measured sensitivity (FilterAllocation), against oracles the test computes itself: each curve
// point is the loss of the group cut alone through CalibratedFilters' include filter (not the per-group ratios, nor the
// cut the sweep reuses), a group's cost is its layers' multiply-adds (or parameters), the cost removed comes to the budget,
// and the spread cut is closer to the original on fresh inputs than the uniform one.
using Condense.Autograd;
using Condense.Graph;
using Condense.Pruning;
using Condense.Tensors;

namespace Condense.Tests.Pruning;

public sealed class FilterAllocationTests
{
    [Fact]
    public void EachPointIsTheLossOfItsGroupCutAlone()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 21);
        var calibration = Inputs(model, 64, seed: 22);
        var probe = Inputs(model, 16, seed: 23);
        var loss = Loss(model, probe);
        var options = new FilterCutOptions();

        var curves = FilterAllocation.Measure(model, () => [Feed(model, calibration)], options, loss);

        // resnet-mini's residual groups are left whole: the cuttable groups are the blocks' inner convs.
        Assert.NotEmpty(curves);
        Assert.All(curves, c => Assert.DoesNotContain("+", c.Tensor));
        foreach (var curve in curves)
            for (int j = 0; j < SensitivityAllocation.Grid.Count; j++)
            {
                double ratio = SensitivityAllocation.Grid[j];
                var alone = CalibratedFilters.Remove(model, ratio, () => [Feed(model, calibration)], new FilterCutOptions { Include = [curve.Tensor] });
                Assert.Single(alone.Changes);
                Assert.Equal(loss(alone.Model), curve.Losses[j], 12);
            }
    }

    [Fact]
    public void TheBudgetGoesWhereItCostsLeastAndBeatsOneRatioForAll()
    {
        var model = Spec("lenet5", seed: 31);
        var calibration = Inputs(model, 256, seed: 32);
        var fresh = Inputs(model, 64, seed: 33);
        var options = new FilterCutOptions { Dampening = 0.01 };

        var (spread, curves, ratios) = FilterAllocation.Remove(model, 0.4, () => [Feed(model, calibration)], options,
            Loss(model, Inputs(model, 64, seed: 34)));
        var uniform = CalibratedFilters.Remove(model, 0.4, () => [Feed(model, calibration)], options);

        // The ratios differ by group, and the parameters the groups index shrink by the budget, up to whole channels.
        Assert.True(ratios.Values.Distinct().Count() > 1, string.Join(", ", ratios.Select(r => $"{r.Key} {r.Value:F3}")));
        // A group's cost is what a ratio of 1 would remove: by default the multiply-adds of conv 1 (all its filters) and conv 4
        // (all its inputs from conv 1), each its weight's size times its output pixels; by parameters, conv 1's filters and
        // biases and conv 4's inputs from it.
        var init = model.Graph.Initializers;
        model.Eval();
        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = model.Run(Feed(model, fresh));
        long Pixels(string weight)
        {
            var y = values[model.Graph.Nodes.Single(n => n.OpType == OpTypes.Conv && n.Inputs[1] == weight).Outputs[0]];
            return y.Shape[2] * y.Shape[3];
        }
        Assert.Equal(init["1.weight"].Size * Pixels("1.weight") + init["4.weight"].Size * Pixels("4.weight"),
            curves.Single(c => c.Tensor == "1.weight").Parameters);
        var byParameters = FilterAllocation.Measure(model, () => [Feed(model, calibration)], options, _ => 0, budget: FilterBudget.Parameters);
        Assert.Equal(init["1.weight"].Size + init["1.bias"].Size + init["4.weight"].Size, byParameters.Single(c => c.Tensor == "1.weight").Parameters);
        double total = curves.Sum(c => (double)c.Parameters);
        double removed = curves.Sum(c => c.Parameters * (1 - (double)Kept(spread, model, c.Tensor) / Channels(model, c.Tensor)));
        // Whole channels: one of conv 1's six filters is a step of 17 % of its group.
        Assert.InRange(removed / total, 0.33, 0.47);
        // On inputs neither the cut nor the measurements saw, the spread cut is closer to the original.
        double spreadLoss = Loss(model, fresh)(spread.Model), uniformLoss = Loss(model, fresh)(uniform.Model);
        Assert.True(spreadLoss < uniformLoss, $"spread {spreadLoss:F5}, uniform {uniformLoss:F5}");
    }

    [Fact]
    public void APerGroupRatioOutsideItsRangeIsOneLine()
    {
        var model = Spec("lenet5", seed: 41);
        var x = Inputs(model, 8, seed: 42);
        var error = Assert.Throws<CondenseException>(() =>
            CalibratedFilters.Remove(model, 0.3, () => [Feed(model, x)],
                new FilterCutOptions { Ratios = new Dictionary<string, double> { ["1.weight"] = 1 } }));
        Assert.Equal("structured pruning ratio of 1.weight must be in [0, 1), got 1", error.Message);
        Assert.Throws<CondenseException>(() =>
            FilterAllocation.Remove(model, 1, () => [Feed(model, x)], new FilterCutOptions(), Loss(model, x)));
    }

    // 1 − the mean over samples of the cosine between a model's output rows and the original's.
    private static Func<GraphModule, double> Loss(GraphModule original, Tensor x)
    {
        var reference = Logits(original, x);
        int width = reference.Length / x.Shape[0];
        return m =>
        {
            var y = Logits(m, x);
            double sum = 0;
            for (int r = 0; r < x.Shape[0]; r++)
            {
                double dot = 0, a = 0, b = 0;
                for (int k = r * width; k < (r + 1) * width; k++)
                    (dot, a, b) = (dot + (double)y[k] * reference[k], a + (double)y[k] * y[k], b + (double)reference[k] * reference[k]);
                sum += dot / Math.Sqrt(a * b);
            }
            return 1 - sum / x.Shape[0];
        };
    }

    // A group left whole (its ratio rounded to no channel) is not among the changes.
    private static int Kept(StructuredResult result, GraphModule model, string group) =>
        result.Changes.SingleOrDefault(c => c.Layers[0] == group)?.ChannelsAfter ?? Channels(model, group);

    private static int Channels(GraphModule model, string weight) => model.Graph.Initializers[weight].Shape[0];

    private static GraphModule Spec(string spec, ulong seed) => CalibratedFiltersTests.Spec(spec, seed);

    private static Tensor Inputs(GraphModule model, int count, ulong seed) => CalibratedFiltersTests.Inputs(model, count, seed);

    private static Dictionary<string, Tensor> Feed(GraphModule model, Tensor x) => CalibratedFiltersTests.Feed(model, x);

    private static float[] Logits(GraphModule model, Tensor x)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        return model.Run(Feed(model, x))[model.Graph.Outputs[0].Name].Data;
    }
}
