// Float parity cases of the reductions added for issue 13 against ONNX Runtime: ReduceProd, ReduceL1, ReduceL2,
// ReduceLogSum and ReduceLogSumExp, with axes as an attribute (opset 13) and as an input (opset 18).
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static readonly Dictionary<string, Case> ReduceCases = new()
    {
        ["ReduceProd axis 1"] = new([Node("ReduceProd", ["x"], "y", Ints("axes", 1))], [("x", [2, 3, 4])], []),
        ["ReduceL1 axes input, no keepdims"] = new([Node("ReduceL1", ["x", "ax"], "y", Int("keepdims", 0))], [("x", [2, 3, 4])],
            [Longs("ax", [0, -1], 2)], Opset: 18),
        ["ReduceL2 all"] = new([Node("ReduceL2", ["x"], "y", Int("keepdims", 0))], [("x", [2, 3, 4])], []),
        ["ReduceLogSum two axes"] = new([Node("ReduceLogSum", ["x"], "y", Ints("axes", 0, 2))], [("x", [2, 3, 4])], [], Low: 0.1f, High: 3f),
        ["ReduceLogSumExp of large values"] = new([Node("ReduceLogSumExp", ["x"], "y", Ints("axes", 1, 2), Int("keepdims", 0))],
            [("x", [2, 3, 4])], [], Low: 80f, High: 100f),
    };
}
