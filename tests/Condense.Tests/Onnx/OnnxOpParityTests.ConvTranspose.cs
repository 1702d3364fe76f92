// Float parity cases of ConvTranspose against ONNX Runtime: strides, asymmetric pads, dilations, groups, bias,
// output_padding, output_shape, auto_pad, and the 1-D form.
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static Case ConvTranspose(int[] x, int[] w, bool bias, params global::Onnx.AttributeProto[] attributes) => new(
        [Node("ConvTranspose", bias ? ["x", "w", "b"] : ["x", "w"], "y", attributes)],
        bias ? [("x", x), ("w", w), ("b", [w[1] * GroupOf(attributes)])] : [("x", x), ("w", w)], []);

    private static int GroupOf(global::Onnx.AttributeProto[] attributes) => (int)(attributes.FirstOrDefault(a => a.Name == "group")?.I ?? 1);

    private static readonly Dictionary<string, Case> ConvTransposeCases = new()
    {
        ["ConvTranspose plain"] = ConvTranspose([1, 2, 3, 3], [2, 3, 3, 3], false),
        ["ConvTranspose stride 2, pads, bias"] = ConvTranspose([2, 3, 4, 5], [3, 2, 3, 3], true, Ints("strides", 2, 2), Ints("pads", 1, 0, 1, 2)),
        ["ConvTranspose dilation 2, stride (2, 1)"] = ConvTranspose([1, 2, 4, 4], [2, 3, 2, 3], true, Ints("dilations", 2, 2), Ints("strides", 2, 1)),
        ["ConvTranspose groups 2"] = ConvTranspose([1, 4, 3, 3], [4, 3, 3, 3], true, Int("group", 2), Ints("strides", 2, 2)),
        ["ConvTranspose output_padding"] = ConvTranspose([1, 2, 3, 3], [2, 2, 3, 3], false, Ints("strides", 3, 2), Ints("output_padding", 1, 1)),
        ["ConvTranspose output_shape"] = ConvTranspose([1, 1, 3, 3], [1, 2, 3, 3], false, Ints("strides", 3, 2), Ints("output_shape", 10, 8)),
        ["ConvTranspose SAME_UPPER"] = ConvTranspose([1, 1, 3, 3], [1, 2, 3, 3], true, Ints("strides", 2, 2), StringAttr("auto_pad", "SAME_UPPER")),
        ["ConvTranspose SAME_LOWER"] = ConvTranspose([1, 1, 3, 4], [1, 2, 4, 3], false, Ints("strides", 2, 3), StringAttr("auto_pad", "SAME_LOWER")),
        ["ConvTranspose 1-D stride 2"] = ConvTranspose([2, 3, 5], [3, 2, 3], true, Ints("strides", 2), Ints("pads", 1, 0)),
    };
}
