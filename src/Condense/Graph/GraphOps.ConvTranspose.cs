// ONNX ConvTranspose (opset 1/11, https://onnx.ai/onnx/operators/onnx__ConvTranspose.html) on Tensor.ConvTranspose2d:
// attributes kernel_shape, strides, pads, dilations, group, output_padding, output_shape and auto_pad. The output size
// along each axis is stride · (in − 1) + output_padding + (k − 1) · dilation + 1 − pad_begin − pad_end; output_shape
// fixes it and the pads follow as the spec says (the odd one at the end for SAME_UPPER, at the beginning otherwise);
// SAME_UPPER/SAME_LOWER give in · stride. A 1-D ConvTranspose runs as a 2-D one of height 1.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor ConvTranspose(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var w = Required(node, inputs, 1);
        var b = Optional(inputs, 2);
        string where = $"node '{node.Name}' (ConvTranspose)";
        if (x.Rank == 3 && w.Rank == 3)
        {
            var x4 = x.Reshape(x.Shape[0], x.Shape[1], 1, x.Shape[2]);
            var y4 = ConvTranspose2d(node, where, x4, w.Reshape(w.Shape[0], w.Shape[1], 1, w.Shape[2]), b, 1);
            return y4.Reshape(y4.Shape[0], y4.Shape[1], y4.Shape[3]);
        }
        if (x.Rank != 4 || w.Rank != 4)
            throw new CondenseException(
                $"{where}: only 1-D and 2-D transposed convolutions are supported; input {Shape.Format(x.Shape)}, weight {Shape.Format(w.Shape)}");
        return ConvTranspose2d(node, where, x, w, b, 2);
    }

    private static Tensor ConvTranspose2d(Node node, string where, Tensor x, Tensor w, Tensor? b, int axes)
    {
        long[] Values(string name, long fallback)
        {
            var v = Ints(node, name) ?? Enumerable.Repeat(fallback, axes).ToArray();
            if (v.Length != axes) throw new CondenseException($"{where}: {name} needs {axes} values, got [{string.Join(", ", v)}]");
            return axes == 2 ? v : [fallback, v[0]];
        }
        // A 1-D node's only axis is the width (axis 1 here); the height axis of the 2-D form is 1 with no padding.
        var strides = Values("strides", 1);
        var dilations = Values("dilations", 1);
        var outputPadding = Values("output_padding", 0);
        var pads = Ints(node, "pads") ?? new long[2 * axes];
        if (pads.Length != 2 * axes) throw new CondenseException($"{where}: pads needs {2 * axes} values, got [{string.Join(", ", pads)}]");
        long[] begin = axes == 2 ? [pads[0], pads[1]] : [0, pads[0]];
        long[] end = axes == 2 ? [pads[2], pads[3]] : [0, pads[1]];
        int[] kernel = [w.Shape[2], w.Shape[3]], size = [x.Shape[2], x.Shape[3]];
        if (Ints(node, "kernel_shape") is { } k && (k.Length != axes || k[^1] != kernel[1] || (axes == 2 && k[0] != kernel[0])))
            throw new CondenseException($"{where}: kernel_shape [{string.Join(", ", k)}] does not match the weight {Shape.Format(w.Shape)}");
        int group = checked((int)node.Int("group", 1));
        if (group < 1 || x.Shape[1] % group != 0) throw new CondenseException($"{where}: group {group} does not divide the {x.Shape[1]} input channels");
        string autoPad = node.Attributes.TryGetValue("auto_pad", out var a) && a.StringValue is { } s && s.Length > 0 ? s : "NOTSET";
        long[]? outputShape = Ints(node, "output_shape") is { } os ? (os.Length == axes ? (axes == 2 ? os : [1, os[0]])
            : os.Length == axes + 2 ? (axes == 2 ? os[2..] : [1, os[2]])
            : throw new CondenseException($"{where}: output_shape needs {axes} values, got [{string.Join(", ", os)}]")) : null;
        var output = new int[2];
        for (int i = 0; i < 2; i++)
        {
            long full = strides[i] * (size[i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1;
            if (outputPadding[i] >= Math.Max(strides[i], dilations[i]))
                throw new CondenseException($"{where}: output_padding {outputPadding[i]} must be below the stride or the dilation");
            long target = autoPad is "SAME_UPPER" or "SAME_LOWER" ? size[i] * strides[i] : outputShape?[i] ?? -1;
            if (autoPad == "VALID") (begin[i], end[i]) = (0, 0);
            if (target >= 0 && (i == 1 || axes == 2))
            {
                // A target beyond the full size pads nothing and leaves the extra rows to the bias, as output_padding would.
                long total = Math.Max(0, full - target);
                begin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                end[i] = total - begin[i];
            }
            else if (autoPad is not ("NOTSET" or "VALID"))
                throw new CondenseException($"{where}: unknown auto_pad '{autoPad}'");
            output[i] = target >= 0 && (i == 1 || axes == 2) ? checked((int)target) : checked((int)(full - begin[i] - end[i]));
            if (output[i] < 1) throw new CondenseException($"{where}: the pads leave an empty output along axis {i}");
        }
        var options = new Conv2dOptions((int)strides[0], (int)strides[1], (int)begin[0], (int)begin[1], (int)end[0], (int)end[1],
            (int)dilations[0], (int)dilations[1], group);
        return Tensor.ConvTranspose2d(x, w, b, options, output[0], output[1]);
    }
}
