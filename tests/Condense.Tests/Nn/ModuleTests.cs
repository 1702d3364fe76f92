// Modules: parameter naming, initialisation, seeding, state dicts, train/eval switching of dropout,
// and Linear's forward against a naive loop.
using Condense.Autograd;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Nn;

public sealed class ModuleTests
{
    private static Tensor Input(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1f, 1f, shape);

    [Fact]
    public void MlpParametersAreNamedAfterTheirSequentialIndex()
    {
        var model = ModelSpec.Parse("mlp:784-128-10").Build();

        Assert.Equal(["1.weight", "1.bias", "3.weight", "3.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(["", "0", "1", "2", "3"], model.NamedModules().Select(m => m.Name));
        Assert.IsType<Flatten>(model.Layers[0]);
        Assert.IsType<Linear>(model.Layers[1]);
        Assert.IsType<ReLU>(model.Layers[2]);
        Assert.IsType<Linear>(model.Layers[3]);
        Assert.Equal([128, 784], model.NamedParameters().First().Parameter.Shape);
        Assert.Equal(784L * 128 + 128 + 128 * 10 + 10, model.ParameterCount());
        Assert.Equal(model.NamedParameters().Select(p => p.Name), model.StateDict().Keys);
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(33, 1)]
    [InlineData(127, 65)]
    public void LinearInitialisationIsUniformWithinOneOverRootIn(int inFeatures, int outFeatures)
    {
        var layer = new Linear(inFeatures, outFeatures, rng: new Rng(3));
        double bound = 1 / Math.Sqrt(inFeatures);
        Assert.Equal([outFeatures, inFeatures], layer.Weight.Shape);
        Assert.Equal([outFeatures], layer.Bias!.Shape);
        float[] all = [.. layer.Weight.Data, .. layer.Bias.Data];
        Assert.All(all, w => Assert.InRange(w, -bound, bound));
        if (all.Length >= 1000)
        {
            // U(−b, b): mean 0, variance b²/3, and the samples reach close to both ends.
            double mean = all.Average(w => (double)w);
            double variance = all.Average(w => (w - mean) * (w - mean));
            Assert.InRange(mean, -0.05 * bound, 0.05 * bound);
            Assert.InRange(variance, 0.9 * bound * bound / 3, 1.1 * bound * bound / 3);
            Assert.True(all.Max() > 0.99 * bound && all.Min() < -0.99 * bound);
        }
    }

    [Fact]
    public void SameSeedGivesSameWeightsAndDifferentSeedDifferentWeights()
    {
        var spec = ModelSpec.Parse("mlp:31-17-5");
        var a = spec.Build(seed: 42).StateDict();
        var b = spec.Build(seed: 42).StateDict();
        var c = spec.Build(seed: 43).StateDict();
        foreach (var name in a.Keys)
        {
            Assert.Equal(a[name].Data, b[name].Data);
            Assert.NotEqual(a[name].Data, c[name].Data);
        }
        // The two layers draw from one generator, so they are not copies of each other.
        Assert.NotEqual(a["1.bias"].Data.Take(5), a["3.bias"].Data);
    }

    [Fact]
    public void LinearForwardEqualsNaiveLoop()
    {
        const int n = 5, inF = 33, outF = 7;
        var layer = new Linear(inF, outF, rng: new Rng(9));
        var x = Input(1, n, inF);
        var y = layer.Forward(x);
        Assert.Equal([n, outF], y.Shape);
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outF; o++)
            {
                double s = layer.Bias!.Data[o];
                for (int k = 0; k < inF; k++) s += (double)x.Data[i * inF + k] * layer.Weight.Data[o * inF + k];
                Assert.Equal(s, y.Data[i * outF + o], 5);
            }
    }

    [Fact]
    public void LinearWithoutBiasHasOnlyAWeight()
    {
        var layer = new Linear(3, 2, bias: false, rng: new Rng(1));
        Assert.Null(layer.Bias);
        Assert.Equal(["weight"], layer.NamedParameters().Select(p => p.Name));
        var x = new Tensor([1f, 2f, 3f], 1, 3);
        var w = layer.Weight.Data;
        var y = layer.Forward(x);
        Assert.Equal(w[0] + 2 * w[1] + 3 * w[2], y.Data[0], 5);
        Assert.Equal(w[3] + 2 * w[4] + 3 * w[5], y.Data[1], 5);
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(3, -1)]
    public void LinearRejectsNonPositiveSizes(int inFeatures, int outFeatures) =>
        Assert.Throws<CondenseException>(() => new Linear(inFeatures, outFeatures));

    [Fact]
    public void StateDictRoundTripCopiesValues()
    {
        var spec = ModelSpec.Parse("mlp:13-9-3");
        var source = spec.Build(seed: 1);
        var target = spec.Build(seed: 2);
        var x = Input(5, 4, 13);
        target.LoadStateDict(source.StateDict());

        Assert.Equal(source.Forward(x).Data, target.Forward(x).Data);
        foreach (var (name, t) in source.StateDict())
        {
            Assert.Equal(t.Data, target.StateDict()[name].Data);
            Assert.NotSame(t.Data, target.StateDict()[name].Data);
        }
        // Copied, not shared: changing the source afterwards leaves the target alone.
        source.StateDict()["1.weight"].Data[0] += 1f;
        Assert.NotEqual(source.StateDict()["1.weight"].Data[0], target.StateDict()["1.weight"].Data[0]);
    }

    [Fact]
    public void StrictLoadReportsMissingEntries()
    {
        var model = ModelSpec.Parse("mlp:13-9-3").Build();
        var state = model.StateDict();
        state.Remove("3.bias");
        var e = Assert.Throws<CondenseException>(() => model.LoadStateDict(state));
        Assert.Contains("missing", e.Message);
        Assert.Contains("3.bias", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void StrictLoadReportsUnexpectedEntries()
    {
        var model = ModelSpec.Parse("mlp:13-9-3").Build();
        var state = model.StateDict();
        state["5.weight"] = Tensor.Zeros(2, 2);
        var e = Assert.Throws<CondenseException>(() => model.LoadStateDict(state));
        Assert.Contains("unexpected", e.Message);
        Assert.Contains("5.weight", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void NonStrictLoadSkipsMissingAndUnexpectedEntries()
    {
        var spec = ModelSpec.Parse("mlp:13-9-3");
        var model = spec.Build(seed: 1);
        var other = spec.Build(seed: 2).StateDict();
        var keptBias = (float[])model.StateDict()["3.bias"].Data.Clone();
        other.Remove("3.bias");
        other["extra"] = Tensor.Zeros(1);
        model.LoadStateDict(other, strict: false);
        Assert.Equal(other["1.weight"].Data, model.StateDict()["1.weight"].Data);
        Assert.Equal(keptBias, model.StateDict()["3.bias"].Data);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ShapeMismatchAlwaysThrows(bool strict)
    {
        var model = ModelSpec.Parse("mlp:13-9-3").Build();
        var state = model.StateDict();
        state["1.weight"] = Tensor.Zeros(13, 9); // transposed
        var e = Assert.Throws<CondenseException>(() => model.LoadStateDict(state, strict));
        Assert.Contains("1.weight", e.Message);
        Assert.Contains("[13, 9]", e.Message);
        Assert.Contains("[9, 13]", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TrainAndEvalReachEveryDescendant()
    {
        var model = ModelSpec.Parse("mlp:20-10-10-4,dropout=0.5,input-dropout=0.2").Build();
        Assert.All(model.NamedModules(), m => Assert.True(m.Module.Training));
        model.Eval();
        Assert.All(model.NamedModules(), m => Assert.False(m.Module.Training));
        model.Train();
        Assert.All(model.NamedModules(), m => Assert.True(m.Module.Training));
    }

    [Fact]
    public void DropoutIsIdentityInEvalMode()
    {
        var dropout = new Dropout(0.4f, seed: 3);
        dropout.Eval();
        var x = Input(2, 3, 65);
        Assert.Equal(x.Data, dropout.Forward(x).Data);
    }

    [Fact]
    public void DropoutInTrainingDropsAboutPAndRescalesTheRest()
    {
        const float p = 0.3f;
        var dropout = new Dropout(p, seed: 3);
        var y = dropout.Forward(Tensor.Full(1f, 7, 1001));
        int zeros = y.Data.Count(v => v == 0f);
        double fraction = zeros / (double)y.Size;
        Assert.InRange(fraction, p - 0.02, p + 0.02);
        Assert.All(y.Data.Where(v => v != 0f), v => Assert.Equal(1f / (1f - p), v, 6));
    }

    [Fact]
    public void DropoutMaskDependsOnlyOnTheSeed()
    {
        var x = Tensor.Full(1f, 3, 127);
        var a = new Dropout(0.5f, seed: 8).Forward(x).Data;
        var b = new Dropout(0.5f, seed: 8).Forward(x).Data;
        var c = new Dropout(0.5f, seed: 9).Forward(x).Data;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    public void DropoutRejectsBadProbability(float p) => Assert.Throws<CondenseException>(() => new Dropout(p));

    [Fact]
    public void ZeroGradClearsGradientsOfAllParameters()
    {
        var model = ModelSpec.Parse("mlp:7-5-3").Build();
        var loss = Losses.CrossEntropy(model.Forward(Input(1, 4, 7)), [0, 2, 1, 2]);
        loss.Backward();
        Assert.All(model.Parameters(), p => Assert.NotNull(p.Grad));
        model.ZeroGrad();
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void ForwardUnderNoGradRecordsNothing()
    {
        var model = ModelSpec.Parse("mlp:7-5-3").Build();
        using (GradMode.NoGrad())
        {
            var y = model.Forward(Input(1, 2, 7));
            Assert.False(y.RequiresGrad);
        }
    }
}
