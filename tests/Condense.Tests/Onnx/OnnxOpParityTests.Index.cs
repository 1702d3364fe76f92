// Float parity cases of the index family (Graph/Ops/IndexOps) against ONNX Runtime; integer and bool outputs are
// cast to float so the suite reads them alike.
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static readonly Dictionary<string, Case> IndexCases = new()
    {
        ["Slice negative steps, clamped ends, negative axes"] = new(
            [Node("Slice", ["x", "starts", "ends", "axes", "steps"], "y")], [("x", [4, 5, 6])],
            [Longs("starts", [-1, 1, 100], 3), Longs("ends", [-100, 1000, -7], 3), Longs("axes", [0, -2, 2], 3), Longs("steps", [-2, 2, -1], 3)]),
        ["Slice opset 9 attributes"] = new(
            [Node("Slice", ["x"], "y", Ints("starts", 1, -3), Ints("ends", 1000, -1), Ints("axes", 1, 0))], [("x", [4, 5])], [], Opset: 9),
    };
}
