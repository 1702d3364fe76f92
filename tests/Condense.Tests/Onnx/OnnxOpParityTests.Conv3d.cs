// Float parity cases against ONNX Runtime for Conv, MaxPool and AveragePool on 3-D inputs (N, C, D, H, W), and for
// AveragePool with dilations (opset 19) in 1-D, 2-D and 3-D: strides, asymmetric pads, dilations, groups, bias,
// auto_pad, ceil_mode, count_include_pad, and MaxPool's Indices (cast to float) in both storage orders.
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static Case Pool(string op, int[] shape, long opset, params AttributeProto[] attributes) =>
        new([Node(op, ["x"], "y", attributes)], [("x", shape)], [], Opset: opset);

    private static Case MaxPoolIndices(int[] shape, params AttributeProto[] attributes) =>
        new([Nodes("MaxPool", ["x"], ["p", "i"], attributes), Node("Cast", ["i"], "y", Int("to", 1))], [("x", shape)], [], Opset: 12);

    private static readonly Dictionary<string, Case> Conv3dCases = new()
    {
        ["Conv 3-D groups, strides, asymmetric pads, dilations, bias"] = new(
            [Node("Conv", ["x", "w", "b"], "y", Int("group", 2), Ints("kernel_shape", 3, 2, 2), Ints("strides", 2, 1, 2),
                Ints("pads", 1, 0, 1, 0, 1, 2), Ints("dilations", 1, 2, 1))],
            [("x", [2, 4, 6, 6, 5]), ("w", [6, 2, 3, 2, 2]), ("b", [6])], []),
        ["Conv 3-D auto_pad SAME_UPPER, strides, no kernel_shape"] = new(
            [Node("Conv", ["x", "w"], "y", StringAttr("auto_pad", "SAME_UPPER"), Ints("strides", 2, 2, 1))],
            [("x", [1, 3, 5, 4, 6]), ("w", [2, 3, 2, 3, 3])], []),
        ["Conv 3-D auto_pad SAME_LOWER"] = new(
            [Node("Conv", ["x", "w"], "y", StringAttr("auto_pad", "SAME_LOWER"), Ints("strides", 1, 2, 1))],
            [("x", [1, 2, 5, 3, 4]), ("w", [3, 2, 2, 2, 3])], []),
        ["Conv 3-D depthwise, depth padding wider than a stride"] = new(
            [Node("Conv", ["x", "w", "b"], "y", Int("group", 3), Ints("strides", 3, 1, 1), Ints("pads", 2, 0, 1, 2, 1, 0))],
            [("x", [2, 3, 3, 4, 4]), ("w", [3, 1, 3, 1, 2]), ("b", [3])], []),
        ["Conv 3-D auto_pad VALID"] = new([Node("Conv", ["x", "w"], "y", StringAttr("auto_pad", "VALID"), Ints("strides", 1, 2, 2))],
            [("x", [1, 2, 4, 5, 5]), ("w", [4, 2, 2, 2, 2])], []),

        ["MaxPool 3-D strides, pads, dilation, ceil"] = Pool("MaxPool", [2, 3, 6, 7, 8], 12, Ints("kernel_shape", 2, 3, 2),
            Ints("strides", 2, 1, 2), Ints("pads", 1, 1, 0, 0, 1, 1), Ints("dilations", 1, 1, 2), Int("ceil_mode", 1)),
        ["MaxPool 3-D auto_pad SAME_UPPER"] = Pool("MaxPool", [1, 2, 5, 6, 7], 12, Ints("kernel_shape", 3, 3, 3), Ints("strides", 2, 2, 2),
            StringAttr("auto_pad", "SAME_UPPER")),
        ["MaxPool 3-D auto_pad SAME_LOWER"] = Pool("MaxPool", [1, 2, 5, 6, 7], 12, Ints("kernel_shape", 2, 3, 2), Ints("strides", 2, 1, 2),
            StringAttr("auto_pad", "SAME_LOWER")),
        ["MaxPool 3-D Indices"] = MaxPoolIndices([2, 2, 4, 5, 6], Ints("kernel_shape", 2, 2, 3), Ints("strides", 1, 2, 2), Ints("pads", 1, 0, 1, 0, 1, 1)),
        ["MaxPool 3-D Indices, storage_order 1"] = MaxPoolIndices([1, 2, 4, 5, 6], Ints("kernel_shape", 2, 3, 2), Ints("strides", 2, 1, 2),
            Int("storage_order", 1)),

        ["AveragePool 3-D pads, count_include_pad, ceil"] = Pool("AveragePool", [2, 3, 6, 7, 5], 13, Ints("kernel_shape", 3, 2, 3),
            Ints("strides", 2, 2, 2), Ints("pads", 1, 0, 1, 1, 1, 0), Int("count_include_pad", 1), Int("ceil_mode", 1)),
        ["AveragePool 3-D pads, excluding pad, ceil"] = Pool("AveragePool", [2, 3, 6, 7, 5], 13, Ints("kernel_shape", 3, 2, 3),
            Ints("strides", 2, 2, 2), Ints("pads", 1, 0, 1, 1, 1, 0), Int("ceil_mode", 1)),
        ["AveragePool 3-D auto_pad SAME_UPPER, count_include_pad"] = Pool("AveragePool", [1, 2, 5, 6, 7], 13, Ints("kernel_shape", 2, 3, 3),
            Ints("strides", 2, 2, 3), StringAttr("auto_pad", "SAME_UPPER"), Int("count_include_pad", 1)),
        ["AveragePool 3-D auto_pad SAME_LOWER"] = Pool("AveragePool", [1, 2, 5, 6, 7], 13, Ints("kernel_shape", 2, 3, 3),
            Ints("strides", 1, 2, 2), StringAttr("auto_pad", "SAME_LOWER")),
        ["AveragePool 3-D opset 19, pads, count_include_pad, ceil"] = Pool("AveragePool", [1, 2, 7, 6, 5], 19, Ints("kernel_shape", 3, 3, 2),
            Ints("strides", 2, 2, 2), Ints("pads", 1, 1, 0, 1, 0, 1), Int("count_include_pad", 1), Int("ceil_mode", 1)),
        ["AveragePool 3-D opset 19, dilations, pads, ceil"] = Pool("AveragePool", [1, 2, 8, 7, 9], 19, Ints("kernel_shape", 2, 3, 2),
            Ints("strides", 2, 1, 3), Ints("dilations", 2, 1, 3), Ints("pads", 1, 1, 0, 1, 0, 1), Int("ceil_mode", 1)),
        ["AveragePool 3-D opset 19, dilations, count_include_pad"] = Pool("AveragePool", [1, 2, 8, 7, 9], 19, Ints("kernel_shape", 2, 3, 2),
            Ints("strides", 2, 1, 3), Ints("dilations", 2, 2, 3), Ints("pads", 1, 1, 0, 1, 0, 1), Int("count_include_pad", 1), Int("ceil_mode", 1)),

        ["AveragePool 1-D opset 19, dilations, pads"] = Pool("AveragePool", [2, 3, 11], 19, Ints("kernel_shape", 3), Ints("strides", 2),
            Ints("dilations", 2), Ints("pads", 2, 1)),
        ["AveragePool 1-D opset 19, dilations, count_include_pad, ceil"] = Pool("AveragePool", [2, 3, 12], 19, Ints("kernel_shape", 3),
            Ints("strides", 2), Ints("dilations", 3), Ints("pads", 1, 2), Int("count_include_pad", 1), Int("ceil_mode", 1)),
        ["AveragePool 2-D opset 19, dilations, pads, ceil"] = Pool("AveragePool", [2, 3, 9, 8], 19, Ints("kernel_shape", 3, 2),
            Ints("strides", 2, 1), Ints("dilations", 2, 3), Ints("pads", 1, 0, 2, 1), Int("ceil_mode", 1)),
        ["AveragePool 2-D opset 19, dilations, count_include_pad"] = Pool("AveragePool", [2, 3, 9, 8], 19, Ints("kernel_shape", 2, 2),
            Ints("strides", 2, 2), Ints("dilations", 2, 2), Ints("pads", 1, 1, 1, 1), Int("count_include_pad", 1)),
        ["AveragePool 3-D ceil drops a last window starting in the padding"] = Pool("AveragePool", [1, 1, 5, 5, 5], 13, Ints("kernel_shape", 2, 2, 2),
            Ints("strides", 3, 3, 3), Ints("pads", 0, 0, 0, 1, 1, 1), Int("ceil_mode", 1)),
        ["AveragePool 3-D opset 19, ceil drops a last window starting in the padding"] = Pool("AveragePool", [1, 1, 5, 5, 5], 19, Ints("kernel_shape", 2, 2, 2),
            Ints("strides", 3, 3, 3), Ints("pads", 0, 0, 0, 1, 1, 1), Int("ceil_mode", 1)),
        ["MaxPool 3-D ceil drops a last window starting in the padding"] = Pool("MaxPool", [1, 1, 5, 5, 5], 12, Ints("kernel_shape", 2, 2, 2),
            Ints("strides", 3, 3, 3), Ints("pads", 0, 0, 0, 1, 1, 1), Int("ceil_mode", 1)),
    };
}
