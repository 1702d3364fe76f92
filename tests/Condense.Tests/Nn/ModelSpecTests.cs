// ModelSpec: parsing, printing and building MLP descriptions; bad specs fail with one-line errors.
using Condense.Nn;

namespace Condense.Tests.Nn;

public sealed class ModelSpecTests
{
    [Fact]
    public void ParsesSizesAndDefaults()
    {
        var spec = ModelSpec.Parse("mlp:784-128-10");
        Assert.Equal([784, 128, 10], spec.Sizes);
        Assert.Equal(0f, spec.Dropout);
        Assert.Equal(0f, spec.InputDropout);
        Assert.Equal(Activation.Relu, spec.Activation);
        Assert.Equal(784, spec.InFeatures);
        Assert.Equal(10, spec.OutFeatures);
        Assert.Equal(ModelSpec.Default, spec.ToString());
    }

    [Fact]
    public void ParsesOptions()
    {
        var spec = ModelSpec.Parse(" MLP:784-300-100-10, dropout=0.5 ,input-dropout=0.2,act=tanh ");
        Assert.Equal([784, 300, 100, 10], spec.Sizes);
        Assert.Equal(0.5f, spec.Dropout);
        Assert.Equal(0.2f, spec.InputDropout);
        Assert.Equal(Activation.Tanh, spec.Activation);
        Assert.Equal(Activation.Sigmoid, ModelSpec.Parse("mlp:3-2,act=SIGMOID").Activation);
    }

    [Theory]
    [InlineData("mlp:784-128-10")]
    [InlineData("mlp:5-1")]
    [InlineData("mlp:784-300-100-10,dropout=0.5")]
    [InlineData("mlp:784-1200-1200-10,dropout=0.5,input-dropout=0.2")]
    [InlineData("mlp:31-33-7,dropout=0.25,input-dropout=0.125,act=tanh")]
    [InlineData("mlp:63-65-2,act=sigmoid")]
    public void ToStringRoundTrips(string text)
    {
        var spec = ModelSpec.Parse(text);
        Assert.Equal(text, spec.ToString());
        var again = ModelSpec.Parse(spec.ToString());
        Assert.Equal(spec.Sizes, again.Sizes);
        Assert.Equal(spec.Dropout, again.Dropout);
        Assert.Equal(spec.InputDropout, again.InputDropout);
        Assert.Equal(spec.Activation, again.Activation);
    }

    [Fact]
    public void BuildsLayersInOrder()
    {
        var model = ModelSpec.Parse("mlp:20-10-6-4,dropout=0.5,input-dropout=0.2,act=tanh").Build();
        Assert.Equal(
            [typeof(Flatten), typeof(Dropout), typeof(Linear), typeof(Tanh), typeof(Dropout),
             typeof(Linear), typeof(Tanh), typeof(Dropout), typeof(Linear)],
            model.Layers.Select(l => l.GetType()));
        var dropouts = model.Layers.OfType<Dropout>().Select(d => d.P).ToArray();
        Assert.Equal([0.2f, 0.5f, 0.5f], dropouts);
        var linears = model.Layers.OfType<Linear>().Select(l => (l.InFeatures, l.OutFeatures)).ToArray();
        Assert.Equal([(20, 10), (10, 6), (6, 4)], linears);
    }

    [Theory]
    [InlineData("mlp:")]
    [InlineData("mlp")]
    [InlineData("")]
    [InlineData("cnn:1-2")]
    [InlineData("mlp:784")]
    [InlineData("mlp:784-0-10")]
    [InlineData("mlp:784--10")]
    [InlineData("mlp:784-+10")]
    [InlineData("mlp:784-1.5-10")]
    [InlineData("mlp:784-99999999999-10")]
    [InlineData("mlp:784-10,dropout=1.5")]
    [InlineData("mlp:784-10,dropout=1")]
    [InlineData("mlp:784-10,dropout=-0.1")]
    [InlineData("mlp:784-10,dropout=NaN")]
    [InlineData("mlp:784-10,dropout=abc")]
    [InlineData("mlp:784-10,input-dropout=2")]
    [InlineData("mlp:784-10,dropout")]
    [InlineData("mlp:784-10,foo=1")]
    [InlineData("mlp:784-10,act=gelu")]
    public void InvalidSpecsThrowOneLineCondenseException(string text)
    {
        var e = Assert.Throws<CondenseException>(() => ModelSpec.Parse(text));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(text.Trim(), e.Message);
    }
}
