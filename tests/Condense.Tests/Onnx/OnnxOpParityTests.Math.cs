// Float parity cases of the math and activation family (Graph/Ops/MathOps*) against ONNX Runtime: every unary function
// on inputs inside its domain, the activations with non-default attributes, Hardmax at both axis semantics, Mod, and
// the variadic ops broadcasting three inputs. Bool and integer results are cast to float so the suite reads them alike.
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static Case UnaryIn(string op, float low, float high, long opset = 13, params AttributeProto[] attributes) =>
        new([Node(op, ["x"], "y", attributes)], [("x", [3, 7])], [], opset, low, high);

    // An initializer of an integer type from int64 values, little-endian at the type's width.
    private static TensorProto IntegersOf(string name, int dataType, int width, long[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = dataType };
        t.Dims.AddRange(dims);
        t.RawData = Google.Protobuf.ByteString.CopyFrom([.. values.SelectMany(v => BitConverter.GetBytes(v).Take(width))]);
        return t;
    }

    private static readonly Dictionary<string, Case> MathCases = new()
    {
        ["Abs"] = Unary("Abs"),
        ["Neg"] = Unary("Neg"),
        ["Sign"] = Unary("Sign"),
        ["Ceil"] = UnaryIn("Ceil", -3f, 3f),
        ["Floor"] = UnaryIn("Floor", -3f, 3f),
        ["Round"] = UnaryIn("Round", -3f, 3f, opset: 11),
        ["Reciprocal"] = UnaryIn("Reciprocal", 0.2f, 3f),
        ["Sin"] = UnaryIn("Sin", -4f, 4f),
        ["Cos"] = UnaryIn("Cos", -4f, 4f),
        ["Tan"] = UnaryIn("Tan", -1.2f, 1.2f),
        ["Asin"] = UnaryIn("Asin", -0.95f, 0.95f),
        ["Acos"] = UnaryIn("Acos", -0.95f, 0.95f),
        ["Atan"] = UnaryIn("Atan", -4f, 4f),
        ["Sinh"] = UnaryIn("Sinh", -3f, 3f),
        ["Cosh"] = UnaryIn("Cosh", -3f, 3f),
        ["Asinh"] = UnaryIn("Asinh", -4f, 4f),
        ["Acosh"] = UnaryIn("Acosh", 1.1f, 4f),
        ["Atanh"] = UnaryIn("Atanh", -0.9f, 0.9f),
        // Log of negatives is NaN; log of |floor(x)| is −∞ where floor(x) is 0.
        ["IsNaN of Log"] = new([Node("Log", ["x"], "l"), Node("IsNaN", ["l"], "n"), Node("Cast", ["n"], "y", Int("to", 1))], [("x", [3, 7])], []),
        ["IsInf, negative infinities only"] = new(
            [Node("Floor", ["x"], "f"), Node("Abs", ["f"], "a"), Node("Log", ["a"], "l"), Node("IsInf", ["l"], "i", Int("detect_positive", 0)),
                Node("Cast", ["i"], "y", Int("to", 1))],
            [("x", [3, 7])], [], Opset: 10),
        ["Elu alpha 0.7"] = Unary("Elu", FloatAttr("alpha", 0.7f)),
        ["Selu alpha, gamma"] = Unary("Selu", FloatAttr("alpha", 1.5f), FloatAttr("gamma", 0.8f)),
        ["Selu default"] = Unary("Selu"),
        ["Celu alpha 1.5"] = UnaryIn("Celu", -3f, 3f, 12, FloatAttr("alpha", 1.5f)),
        ["ThresholdedRelu alpha 0.3"] = UnaryIn("ThresholdedRelu", -2f, 2f, 10, FloatAttr("alpha", 0.3f)),
        ["HardSigmoid alpha, beta"] = UnaryIn("HardSigmoid", -4f, 4f, 13, FloatAttr("alpha", 0.3f), FloatAttr("beta", 0.4f)),
        ["HardSwish"] = UnaryIn("HardSwish", -5f, 5f, 14),
        ["Softplus"] = UnaryIn("Softplus", -30f, 30f),
        ["Softsign"] = Unary("Softsign"),
        ["Mish"] = UnaryIn("Mish", -5f, 5f, 18),
        ["Swish default (SiLU), opset 24"] = UnaryIn("Swish", -6f, 6f, 24),
        ["Swish alpha 1.702, opset 24"] = UnaryIn("Swish", -6f, 6f, 24, FloatAttr("alpha", 1.702f)),
        ["Shrink bias, lambd"] = UnaryIn("Shrink", -2f, 2f, 9, FloatAttr("bias", 0.3f), FloatAttr("lambd", 0.6f)),
        ["PRelu per-column slope"] = new([Node("PRelu", ["x", "s"], "y")], [("x", [2, 3, 7]), ("s", [7])], []),
        ["PRelu scalar slope"] = new([Node("PRelu", ["x", "s"], "y")], [("x", [3, 7])], [Floats("s", [0.25f])], Opset: 16),
        ["Hardmax axis 1 of 3-D"] = new([Node("Hardmax", ["x"], "y", Int("axis", 1))], [("x", [2, 5, 3])], []),
        // Before opset 13 Hardmax, like Softmax, works on the input coerced to 2-D at axis (default 1).
        ["Hardmax opset 11, default axis (coerced)"] = new([Node("Hardmax", ["x"], "y")], [("x", [2, 3, 4])], [], Opset: 11),
        ["Mod fmod, broadcast"] = new([Node("Mod", ["a", "b"], "y", Int("fmod", 1))], [("a", [3, 4]), ("b", [4])], [], Low: -5f, High: 5f),
        ["Mod int64, the divisor's sign"] = new(
            [Node("Mul", ["x", "ten"], "m"), Node("Cast", ["m"], "i", Int("to", 7)), Node("Mod", ["i", "d"], "r"), Node("Cast", ["r"], "y", Int("to", 1))],
            [("x", [3, 4])], [Floats("ten", [10f]), Longs("d", [3, -4, 5, -7], 4)]),
        ["BitShift left and right, uint8"] = new(
            [Node("Cast", ["x"], "u", Int("to", 2)), Node("BitShift", ["u", "s"], "l", StringAttr("direction", "LEFT")),
                Node("BitShift", ["l", "s"], "r", StringAttr("direction", "RIGHT")), Node("Cast", ["r"], "y", Int("to", 1))],
            [("x", [3, 4])], [IntegersOf("s", 2, 1, [0, 1, 3, 7], 4)], Opset: 11, Low: 0f, High: 255f),
        ["BitwiseAnd, Or, Xor, Not int32"] = new(
            [Node("Cast", ["x"], "i", Int("to", 6)), Node("BitwiseAnd", ["i", "m"], "a"), Node("BitwiseOr", ["a", "o"], "b"),
                Node("BitwiseXor", ["b", "i"], "c"), Node("BitwiseNot", ["c"], "d"), Node("Cast", ["d"], "y", Int("to", 1))],
            [("x", [3, 4])], [IntegersOf("m", 6, 4, [0x0F, -1, 0x55, 0], 4), IntegersOf("o", 6, 4, [0x30], 1)], Opset: 18, Low: -300f, High: 300f),
        ["Max of three, broadcasting"] = new([Node("Max", ["a", "b", "c"], "y")], [("a", [3, 1, 4]), ("b", [2, 4]), ("c", [4])], []),
        ["Min of three, broadcasting"] = new([Node("Min", ["a", "b", "c"], "y")], [("a", [3, 1, 4]), ("b", [2, 4]), ("c", [4])], []),
        ["Sum of three, broadcasting"] = new([Node("Sum", ["a", "b", "c"], "y")], [("a", [3, 1, 4]), ("b", [2, 4]), ("c", [4])], []),
        ["Mean of three, broadcasting"] = new([Node("Mean", ["a", "b", "c"], "y")], [("a", [3, 1, 4]), ("b", [2, 4]), ("c", [4])], []),
        ["Max of one"] = new([Node("Max", ["a"], "y")], [("a", [3, 4])], []),
    };
}
