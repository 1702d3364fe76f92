// Float parity cases of Einsum against ONNX Runtime: the forms exporters emit for attention, batched and bilinear
// layers, with the implicit output, the ellipsis (broadcast), diagonals, sums and three operands.
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static Case Einsum(string equation, params (string, int[])[] inputs) => new(
        [Node("Einsum", [.. inputs.Select(i => i.Item1)], "y", StringAttr("equation", equation))], inputs, [], Opset: 12);

    private static readonly Dictionary<string, Case> EinsumCases = new()
    {
        ["Einsum batched matmul bij,bjk->bik"] = Einsum("bij,bjk->bik", ("a", [2, 3, 4]), ("b", [2, 4, 5])),
        ["Einsum attention scores bhid,bhjd->bhij"] = Einsum("bhid,bhjd->bhij", ("q", [2, 3, 4, 5]), ("k", [2, 3, 6, 5])),
        ["Einsum attention values bhij,bhjd->bhid"] = Einsum("bhij, bhjd -> bhid", ("p", [1, 2, 3, 4]), ("v", [1, 2, 4, 5])),
        ["Einsum implicit matmul ij,jk"] = Einsum("ij,jk", ("a", [3, 4]), ("b", [4, 2])),
        ["Einsum transpose ij->ji"] = Einsum("ij->ji", ("a", [3, 4])),
        ["Einsum batch diagonal ...ii->...i"] = Einsum("...ii->...i", ("a", [2, 3, 4, 4])),
        ["Einsum inner product i,i"] = Einsum("i,i", ("a", [5]), ("b", [5])),
        ["Einsum row sums ij->i"] = Einsum("ij->i", ("a", [3, 4])),
        ["Einsum outer product i,j->ij"] = Einsum("i,j->ij", ("a", [3]), ("b", [4])),
        ["Einsum bilinear bn,anm,bm->ba"] = Einsum("bn,anm,bm->ba", ("x", [2, 3]), ("w", [4, 3, 5]), ("z", [2, 5])),
        ["Einsum broadcast ellipsis ...ij,...jk->...ik"] = Einsum("...ij,...jk->...ik", ("a", [2, 1, 3, 4]), ("b", [1, 5, 4, 2])),
        ["Einsum trace ii"] = Einsum("ii", ("a", [4, 4])),
    };
}
