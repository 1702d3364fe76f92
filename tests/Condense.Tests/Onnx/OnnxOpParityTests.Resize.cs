// Float parity cases of Resize and Upsample against ONNX Runtime: nearest (each rounding), linear and cubic, every
// common coordinate transformation, scales or sizes, the opset-10 and opset-18 forms, and Upsample at opset 9.
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static Case Resize(int[] x, string[] inputs, global::Onnx.TensorProto[] constants, long opset, params global::Onnx.AttributeProto[] attributes) =>
        new([Node("Resize", ["x", .. inputs], "y", attributes)], [("x", x)], constants, Opset: opset);

    private static readonly Dictionary<string, Case> ResizeCases = new()
    {
        ["Resize linear half_pixel upsample"] = Resize([1, 2, 3, 4], ["", "s"], [Floats("s", [1, 1, 2, 1.5f], 4)], 13, StringAttr("mode", "linear")),
        ["Resize linear align_corners downsample"] = Resize([2, 1, 5, 7], ["", "s"], [Floats("s", [1, 1, 0.6f, 0.5f], 4)], 13,
            StringAttr("mode", "linear"), StringAttr("coordinate_transformation_mode", "align_corners")),
        ["Resize nearest sizes asymmetric floor"] = Resize([1, 3, 4, 4], ["", "", "z"], [Longs("z", [1, 3, 7, 9], 4)], 13,
            StringAttr("coordinate_transformation_mode", "asymmetric"), StringAttr("nearest_mode", "floor")),
        ["Resize nearest round_prefer_ceil half_pixel"] = Resize([1, 1, 5, 5], ["", "s"], [Floats("s", [1, 1, 1.6f, 0.8f], 4)], 13,
            StringAttr("nearest_mode", "round_prefer_ceil")),
        ["Resize cubic exclude_outside"] = Resize([1, 2, 6, 6], ["", "s"], [Floats("s", [1, 1, 0.5f, 1.5f], 4)], 13,
            StringAttr("mode", "cubic"), Int("exclude_outside", 1), FloatAttr("cubic_coeff_a", -0.5f)),
        ["Resize cubic pytorch_half_pixel sizes"] = Resize([1, 1, 4, 5], ["", "", "z"], [Longs("z", [1, 1, 8, 3], 4)], 13,
            StringAttr("mode", "cubic"), StringAttr("coordinate_transformation_mode", "pytorch_half_pixel")),
        ["Resize tf_crop_and_resize extrapolation"] = Resize([1, 1, 4, 4], ["r", "", "z"],
            [Floats("r", [0, 0, 0.2f, -0.3f, 1, 1, 1.1f, 0.9f], 8), Longs("z", [1, 1, 3, 5], 4)], 13, StringAttr("mode", "linear"),
            StringAttr("coordinate_transformation_mode", "tf_crop_and_resize"), FloatAttr("extrapolation_value", 7f)),
        ["Resize opset 10 nearest"] = Resize([1, 2, 3, 3], ["s"], [Floats("s", [1, 1, 2.5f, 0.7f], 4)], 10),
        ["Resize opset 18 axes"] = Resize([2, 3, 4, 5], ["", "s"], [Floats("s", [2, 0.6f], 2)], 18, StringAttr("mode", "linear"), Ints("axes", 3, 2)),
        ["Resize opset 19 half_pixel_symmetric"] = Resize([1, 1, 4, 6], ["", "s"], [Floats("s", [1, 1, 1.7f, 0.75f], 4)], 19,
            StringAttr("mode", "linear"), StringAttr("coordinate_transformation_mode", "half_pixel_symmetric")),
        ["Upsample opset 9 nearest"] = new([Node("Upsample", ["x", "s"], "y")], [("x", [1, 2, 2, 3])], [Floats("s", [1, 1, 2, 3], 4)], Opset: 9),
        ["Upsample opset 9 linear"] = new([Node("Upsample", ["x", "s"], "y", StringAttr("mode", "linear"))], [("x", [1, 2, 2, 3])],
            [Floats("s", [1, 1, 2, 2.5f], 4)], Opset: 9),
    };
}
