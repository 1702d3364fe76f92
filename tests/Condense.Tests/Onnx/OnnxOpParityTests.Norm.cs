// Float parity cases of the normalization family (Graph/Ops/NormOps) against ONNX Runtime: LayerNormalization at
// several axes with its Mean and InvStdDev outputs, RMSNormalization (opset 23) at two axes, MeanVarianceNormalization's default and chosen axes,
// InstanceNormalization on 3-D and 4-D inputs, LRN with two window sizes (ONNX Runtime refuses even ones; NormOpTests checks those).
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static readonly Dictionary<string, Case> NormCases = new()
    {
        ["LayerNormalization default axis, scale and bias"] = new(
            [Node("LayerNormalization", ["x", "s", "b"], "y")], [("x", [2, 3, 5]), ("s", [5]), ("b", [5])], [], Opset: 17),
        ["LayerNormalization axis 1, epsilon, Mean and InvStdDev"] = new(
            [Nodes("LayerNormalization", ["x", "s"], ["n", "m", "d"], Int("axis", 1), FloatAttr("epsilon", 1e-2f)),
                Node("Add", ["n", "m"], "nm"), Node("Add", ["nm", "d"], "y")],
            [("x", [2, 3, 4]), ("s", [3, 4])], [], Opset: 17),
        ["LayerNormalization axis -2 of 4-D"] = new(
            [Node("LayerNormalization", ["x", "s", "b"], "y", Int("axis", -2))], [("x", [2, 2, 3, 4]), ("s", [3, 4]), ("b", [3, 4])], [],
            Opset: 17),
        ["MeanVarianceNormalization default axes"] = new([Node("MeanVarianceNormalization", ["x"], "y")], [("x", [2, 3, 4, 5])], []),
        ["MeanVarianceNormalization axes 2, 3, opset 9"] = new(
            [Node("MeanVarianceNormalization", ["x"], "y", Ints("axes", 2, 3))], [("x", [2, 3, 4, 5])], [], Opset: 9),
        // GroupNorm(2 groups of 3 channels) as torch.onnx exports it: the groups become instances, then the per-channel affine.
        ["GroupNorm as PyTorch exports it"] = new(
        [
            Node("Reshape", ["x", "grouped"], "g"), Node("InstanceNormalization", ["g", "ones", "zeros"], "n"),
            Node("Reshape", ["n", "shape"], "r"), Node("Mul", ["r", "gamma"], "m"), Node("Add", ["m", "beta"], "y"),
        ], [("x", [2, 6, 4, 5])],
        [
            Longs("grouped", [2, 2, -1], 3), Floats("ones", [1, 1], 2), Floats("zeros", [0, 0], 2), Longs("shape", [2, 6, 4, 5], 4),
            Floats("gamma", [0.5f, 1, 1.5f, 2, -1, 0.25f], 6, 1, 1), Floats("beta", [0, 0.1f, 0.2f, -0.3f, 1, 2], 6, 1, 1),
        ]),
        ["InstanceNormalization 4-D"] = new([Node("InstanceNormalization", ["x", "s", "b"], "y")], [("x", [2, 3, 4, 5]), ("s", [3]), ("b", [3])], []),
        ["InstanceNormalization 3-D, epsilon"] = new(
            [Node("InstanceNormalization", ["x", "s", "b"], "y", FloatAttr("epsilon", 0.05f))], [("x", [3, 4, 6]), ("s", [4]), ("b", [4])], []),
        ["RMSNormalization default axis, opset 23"] = new(
            [Node("RMSNormalization", ["x", "s"], "y")], [("x", [2, 3, 5]), ("s", [5])], [], Opset: 23),
        ["RMSNormalization axis 1, epsilon, opset 23"] = new(
            [Node("RMSNormalization", ["x", "s"], "y", Int("axis", 1), FloatAttr("epsilon", 0.1f))], [("x", [2, 3, 4]), ("s", [3, 4])], [],
            Opset: 23, Low: -0.5f, High: 0.5f),
        ["LRN size 3"] = new([Node("LRN", ["x"], "y", Int("size", 3))], [("x", [2, 5, 3, 4])], []),
        ["LRN size 5, alpha, beta, bias"] = new(
            [Node("LRN", ["x"], "y", Int("size", 5), FloatAttr("alpha", 0.2f), FloatAttr("beta", 0.6f), FloatAttr("bias", 2f))],
            [("x", [2, 6, 3, 3])], []),
    };
}
