// Float parity cases of the loss family (Graph/Ops/LossOps) against ONNX Runtime: every reduction, class weights,
// ignore_index, and the optional log-probabilities of SoftmaxCrossEntropyLoss.
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static readonly Dictionary<string, Case> LossCases = new()
    {
        ["NegativeLogLikelihoodLoss (N, C, d) mean, weights, ignore_index"] = new(
            [Node("NegativeLogLikelihoodLoss", ["x", "t", "w"], "y", Int("ignore_index", 2))], [("x", [3, 4, 2])],
            [Longs("t", [0, 2, 3, 1, 2, 0], 3, 2), Floats("w", [0.5f, 1.5f, 2f, 0.25f], 4)], Opset: 13),
        ["NegativeLogLikelihoodLoss (N, C) none"] = new(
            [Node("NegativeLogLikelihoodLoss", ["x", "t"], "y", StringAttr("reduction", "none"))], [("x", [4, 3])],
            [Longs("t", [2, 0, 1, 1], 4)], Opset: 12),
        ["SoftmaxCrossEntropyLoss sum with log_prob"] = new(
            [Nodes("SoftmaxCrossEntropyLoss", ["x", "t"], ["y", "log_prob"], StringAttr("reduction", "sum"))], [("x", [2, 5, 3])],
            [Longs("t", [4, 0, 1, 3, 3, 2], 2, 3)], Opset: 13),
        ["SoftmaxCrossEntropyLoss mean, weights, ignore_index"] = new(
            [Node("SoftmaxCrossEntropyLoss", ["x", "t", "w"], "y", Int("ignore_index", 0))], [("x", [5, 3])],
            [Longs("t", [0, 2, 1, 1, 2], 5), Floats("w", [1f, 0.5f, 3f], 3)], Opset: 12),
    };
}
