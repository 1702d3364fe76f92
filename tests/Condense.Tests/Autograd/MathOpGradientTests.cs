// Finite-difference checks of the float32 gradients of the math and activation family, run as graph nodes
// (GraphOps.Run): the unary functions through Tensor.Map and their derivatives, PRelu into both inputs, and the
// variadic Max/Min (to the side chosen), Sum and Mean through broadcasting, RMSNormalization into its input and scale.
// Inputs stay inside each function's domain.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class MathOpGradientTests
{
    private static readonly OpContext Context = new(Training: true, new Rng(1));

    private static Func<Tensor[], Tensor> Op(string op, params (string, AttributeValue)[] attributes)
    {
        var node = new Node("n", op, ["a", "b", "c"], ["y"], attributes.ToDictionary(a => a.Item1, a => a.Item2));
        return x => GraphOps.Run(node, [.. x], Context)[0];
    }

    public static TheoryData<string, float, float> UnaryCases() => new()
    {
        { OpTypes.Abs, -1f, 1f }, { OpTypes.Neg, -1f, 1f }, { OpTypes.Reciprocal, 0.5f, 2f },
        { OpTypes.Sin, -3f, 3f }, { OpTypes.Cos, -3f, 3f }, { OpTypes.Tan, -1f, 1f }, { OpTypes.Asin, -0.8f, 0.8f },
        { OpTypes.Acos, -0.8f, 0.8f }, { OpTypes.Atan, -3f, 3f }, { OpTypes.Sinh, -2f, 2f }, { OpTypes.Cosh, -2f, 2f },
        { OpTypes.Asinh, -3f, 3f }, { OpTypes.Acosh, 1.2f, 3f }, { OpTypes.Atanh, -0.8f, 0.8f },
        { OpTypes.Elu, -2f, 2f }, { OpTypes.Selu, -2f, 2f }, { OpTypes.Celu, -2f, 2f }, { OpTypes.HardSigmoid, -4f, 4f },
        { OpTypes.HardSwish, -4f, 4f }, { OpTypes.Softplus, -3f, 3f }, { OpTypes.Softsign, -3f, 3f }, { OpTypes.Mish, -3f, 3f },
        { OpTypes.ThresholdedRelu, -1f, 1f }, { OpTypes.Shrink, -1f, 1f }, { OpTypes.Swish, -4f, 4f },
    };

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryGradientMatchesFiniteDifferences(string op, float low, float high)
    {
        var x = Tensor.Uniform(new Rng(11), low, high, 3, 5);
        var f = op switch
        {
            OpTypes.Elu => Op(op, ("alpha", AttributeValue.Float(0.7f))),
            OpTypes.Celu => Op(op, ("alpha", AttributeValue.Float(1.5f))),
            OpTypes.ThresholdedRelu => Op(op, ("alpha", AttributeValue.Float(0.3f))),
            OpTypes.Shrink => Op(op, ("lambd", AttributeValue.Float(0.4f)), ("bias", AttributeValue.Float(0.1f))),
            OpTypes.Swish => Op(op, ("alpha", AttributeValue.Float(1.702f))),
            _ => Op(op),
        };
        GradCheck.Check(f, [x], eps: 1e-3f);
    }

    [Fact]
    public void PReluGradientFlowsIntoTheInputAndTheSlope() =>
        GradCheck.Check(Op(OpTypes.PRelu), [GradCheck.Random(12, 2, 3, 4), GradCheck.Random(13, 4)], eps: 1e-3f);

    [Theory]
    [InlineData("Max")]
    [InlineData("Min")]
    [InlineData("Sum")]
    [InlineData("Mean")]
    public void VariadicGradientFlowsThroughBroadcasting(string op) =>
        GradCheck.Check(Op(op), [GradCheck.Random(14, 3, 1, 4), GradCheck.Random(15, 2, 4), GradCheck.Random(16, 4)], eps: 1e-3f);

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void RmsNormalizationGradientFlowsIntoTheInputAndTheScale(long axis)
    {
        var node = new Node("n", OpTypes.RMSNormalization, ["x", "s"], ["y"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(axis) });
        int[] scaleShape = axis == -1 ? [4] : [3, 4];
        GradCheck.Check(x => GraphOps.Run(node, [.. x], Context)[0], [GradCheck.Random(17, 2, 3, 4), GradCheck.Random(18, scaleShape)], eps: 1e-3f);
    }
}
