// The normalization family beyond the parity cases: float32 gradients of every op against finite differences (through
// GraphOps.Run, as a graph trains), LRN with an even window (which ONNX Runtime refuses) against the ONNX formula
// computed here, and the one-line refusals of what the ops cannot do.
using Condense.Graph;
using Condense.Tensors;
using Condense.Tests.Autograd;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public partial class NormOpTests
{
    private static readonly OpContext Context = new(Training: true, new Rng(1));

    private static NodeProto Nodes(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = OnnxTestModels.Node(op, inputs, outputs[0], attributes);
        n.Output.AddRange(outputs[1..]);
        return n;
    }

    private static NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes) =>
        OnnxTestModels.Node(op, inputs, output, attributes);

    private static AttributeProto Int(string name, long value) => OnnxTestModels.Int(name, value);

    private static AttributeProto Ints(string name, params long[] values) => OnnxTestModels.Ints(name, values);

    private static AttributeProto FloatAttr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static Func<Tensor[], Tensor> Op(string op, int output = 0, params (string, AttributeValue)[] attributes)
    {
        var node = new Node("n", op, ["x", "s", "b"], ["y", "m", "d"], attributes.ToDictionary(a => a.Item1, a => a.Item2));
        return x => GraphOps.Run(node, [.. x], Context)[output];
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void LayerNormalizationGradientsMatchFiniteDifferences(long axis) =>
        GradCheck.Check(Op(OpTypes.LayerNormalization, 0, ("axis", AttributeValue.Int(axis)), ("epsilon", AttributeValue.Float(1e-3f))),
            [GradCheck.Random(1, 2, 3, 4), GradCheck.Random(2, 4), GradCheck.Random(3, 4)], eps: 1e-3f);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void LayerNormalizationMeanAndInvStdDevGradients(int output) =>
        GradCheck.Check(x => Op(OpTypes.LayerNormalization, output, ("axis", AttributeValue.Int(1)))([x[0], GradCheck.Random(9, 3, 4)]),
            [GradCheck.Random(4, 2, 3, 4)], eps: 1e-3f);

    [Fact]
    public void MeanVarianceNormalizationGradientMatchesFiniteDifferences() =>
        GradCheck.Check(Op(OpTypes.MeanVarianceNormalization, 0, ("axes", AttributeValue.Ints(0, 2))), [GradCheck.Random(5, 2, 3, 4)], eps: 1e-3f);

    [Fact]
    public void InstanceNormalizationGradientsMatchFiniteDifferences() =>
        GradCheck.Check(Op(OpTypes.InstanceNormalization, 0, ("epsilon", AttributeValue.Float(1e-3f))),
            [GradCheck.Random(6, 2, 3, 5), GradCheck.Random(7, 3), GradCheck.Random(8, 3)], eps: 1e-3f);

    [Fact]
    public void LrnGradientMatchesFiniteDifferences() =>
        GradCheck.Check(Op(OpTypes.LRN, 0, ("size", AttributeValue.Int(3)), ("alpha", AttributeValue.Float(0.5f))),
            [GradCheck.Random(9, 2, 4, 2, 3)], eps: 1e-3f);

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void LrnEvenWindowFollowsTheOnnxFormula(int size)
    {
        // square_sum over channels c − ⌊(size − 1)/2⌋ … c + ⌈(size − 1)/2⌉: one more channel after c than before.
        var x = GradCheck.Random(10, 2, 5, 3);
        float alpha = 0.4f, beta = 0.75f, bias = 1.5f;
        var y = Op(OpTypes.LRN, 0, ("size", AttributeValue.Int(size)), ("alpha", AttributeValue.Float(alpha)), ("bias", AttributeValue.Float(bias)))([x]);
        var typed = Op(OpTypes.LRN, 0, ("size", AttributeValue.Int(size)), ("alpha", AttributeValue.Float(alpha)), ("bias", AttributeValue.Float(bias)))(
            [TypedOps.Cast(x, DataType.Float64)]);
        int before = (size - 1) / 2, after = size - 1 - before;
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 5; c++)
                for (int r = 0; r < 3; r++)
                {
                    double sum = 0;
                    for (int i = Math.Max(0, c - before); i <= Math.Min(4, c + after); i++) sum += Math.Pow(x.Data[(n * 5 + i) * 3 + r], 2);
                    int at = (n * 5 + c) * 3 + r;
                    double expected = x.Data[at] / Math.Pow(bias + alpha / size * sum, beta);
                    Assert.Equal(expected, y.Data[at], 5);
                    Assert.Equal(expected, typed.GetDouble(at), 6);
                }
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "stash_type", "LayerNormalization stash_type 0" },
        { "axis", "LayerNormalization axis 3 of rank 3" },
        { "Scale", "LayerNormalization Scale [5] for X [2, 3, 4]" },
        { "size", "LRN without size" },
        { "repeat", "MeanVarianceNormalization axes 1, -2 of rank 3" },
        { "scale", "InstanceNormalization scale [2] for 3 channels" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void UnsupportedFormsAreRefusedInOneLine(string word, string what)
    {
        var x = GradCheck.Random(11, 2, 3, 4);
        Func<Tensor[]> run = what switch
        {
            _ when what.Contains("stash_type") => () => [Op(OpTypes.LayerNormalization, 0, ("stash_type", AttributeValue.Int(0)))([x, GradCheck.Random(1, 4)])],
            _ when what.Contains("axis 3") => () => [Op(OpTypes.LayerNormalization, 0, ("axis", AttributeValue.Int(3)))([x, GradCheck.Random(1, 4)])],
            _ when what.Contains("Scale") => () => [Op(OpTypes.LayerNormalization)([x, GradCheck.Random(1, 5)])],
            _ when what.Contains("LRN") => () => [Op(OpTypes.LRN)([x])],
            _ when what.Contains("Mean") => () => [Op(OpTypes.MeanVarianceNormalization, 0, ("axes", AttributeValue.Ints(1, -2)))([x])],
            _ => () => [Op(OpTypes.InstanceNormalization)([x, GradCheck.Random(1, 2), GradCheck.Random(2, 3)])],
        };
        var e = Assert.Throws<CondenseException>(() => run());
        Assert.Contains(word, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
