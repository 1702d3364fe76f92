// ONNX Conv (opset 1–22) on the engine's Tensor.Conv2d: attributes kernel_shape (else read from W),
// strides, pads ([x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right]), dilations, group,
// and auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER: out = ceil(in / stride), the odd pad at the end
// for SAME_UPPER and at the beginning for SAME_LOWER). A 1-D Conv (N, C, L) runs as a 2-D one of height 1;
// a 3-D Conv (N, C, D, H, W) as a sum of 2-D ones over the kernel depth (GraphOps.Conv3d.cs).
// ConvOptions/ConvAttributes convert between a node's attributes and Conv2dOptions for the tracer and passes.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor Conv(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var w = Required(node, inputs, 1);
        var b = Optional(inputs, 2);
        if (x.Rank == 3 && w.Rank == 3)
        {
            // (N, C, L) as (N, C, 1, L): the attributes' single axis becomes the width.
            var x4 = x.Reshape(x.Shape[0], x.Shape[1], 1, x.Shape[2]);
            var w4 = w.Reshape(w.Shape[0], w.Shape[1], 1, w.Shape[2]);
            var y = Tensor.Conv2d(x4, w4, b, ConvOptions(node, x4.Shape, w4.Shape));
            return y.Reshape(y.Shape[0], y.Shape[1], y.Shape[3]);
        }
        if (x.Rank == 5 && w.Rank == 5) return Conv3d(node, x, w, b);
        if (x.Rank != 4 || w.Rank != 4)
            throw new CondenseException(
                $"node '{node.Name}' (Conv): only 1-D, 2-D and 3-D convolutions are supported; input {Shape.Format(x.Shape)}, weight {Shape.Format(w.Shape)}");
        return Tensor.Conv2d(x, w, b, ConvOptions(node, x.Shape, w.Shape));
    }

    /// <summary>
    /// The <see cref="Conv2dOptions"/> of a Conv node for an input of shape (N, C, H, W) and a weight of shape
    /// (M, C/group, kH, kW); resolves auto_pad. Inputs and weights of rank 4 whose height is 1 also take the
    /// one-element attributes of a 1-D Conv (they apply to the width).
    /// </summary>
    public static Conv2dOptions ConvOptions(Node node, int[] inputShape, int[] weightShape)
    {
        ArgumentNullException.ThrowIfNull(node);
        int kH = weightShape[2], kW = weightShape[3];
        var kernel = Ints(node, "kernel_shape");
        bool oneD = kernel is { Length: 1 } || Ints(node, "strides") is { Length: 1 } || Ints(node, "dilations") is { Length: 1 }
            || Ints(node, "pads") is { Length: 2 };
        int axes = oneD ? 1 : 2;
        if (oneD && (inputShape[2] != 1 || kH != 1))
            throw new CondenseException($"node '{node.Name}' (Conv): 1-D attributes on a 2-D input {Shape.Format(inputShape)}");
        if (kernel is not null && (kernel.Length != axes || kernel[^1] != kW || (axes == 2 && kernel[0] != kH)))
            throw new CondenseException(
                $"node '{node.Name}' (Conv): kernel_shape [{string.Join(", ", kernel)}] does not match the weight {Shape.Format(weightShape)}");
        var strides = Axis(node, "strides", axes, 1);
        var dilations = Axis(node, "dilations", axes, 1);
        var pads = Ints(node, "pads") ?? new long[2 * axes];
        if (pads.Length != 2 * axes)
            throw new CondenseException($"node '{node.Name}' (Conv): pads needs {2 * axes} values, got [{string.Join(", ", pads)}]");
        int group = checked((int)node.Int("group", 1));
        // Per spatial axis, begin and end padding; a 1-D node's only axis is the width.
        int[] begin = axes == 2 ? [(int)pads[0], (int)pads[1]] : [0, (int)pads[0]];
        int[] end = axes == 2 ? [(int)pads[2], (int)pads[3]] : [0, (int)pads[1]];
        int[] stride = axes == 2 ? strides : [1, strides[0]];
        int[] dilation = axes == 2 ? dilations : [1, dilations[0]];
        string autoPad = node.Attributes.TryGetValue("auto_pad", out var a) && a.StringValue is { } s ? s : "NOTSET";
        switch (autoPad)
        {
            case "NOTSET" or "": break;
            case "VALID": begin = [0, 0]; end = [0, 0]; break;
            case "SAME_UPPER" or "SAME_LOWER":
                int[] size = [inputShape[2], inputShape[3]], kernelSize = [kH, kW];
                for (int i = 0; i < 2; i++)
                {
                    int output = (size[i] + stride[i] - 1) / stride[i];
                    int total = Math.Max(0, (output - 1) * stride[i] + dilation[i] * (kernelSize[i] - 1) + 1 - size[i]);
                    begin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                    end[i] = total - begin[i];
                }
                break;
            default: throw new CondenseException($"node '{node.Name}' (Conv): unknown auto_pad '{autoPad}'");
        }
        return new Conv2dOptions(stride[0], stride[1], begin[0], begin[1], end[0], end[1], dilation[0], dilation[1], group);
    }

    /// <summary>The ONNX Conv attributes of a 2-D convolution with a kH × kW kernel (explicit pads, no auto_pad).</summary>
    public static Dictionary<string, AttributeValue> ConvAttributes(Conv2dOptions options, int kernelH, int kernelW)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new()
        {
            ["kernel_shape"] = AttributeValue.Ints(kernelH, kernelW),
            ["strides"] = AttributeValue.Ints(options.StrideH, options.StrideW),
            ["pads"] = AttributeValue.Ints(options.PadTop, options.PadLeft, options.PadBottom, options.PadRight),
            ["dilations"] = AttributeValue.Ints(options.DilationH, options.DilationW),
            ["group"] = AttributeValue.Int(options.Groups),
        };
    }

    private static int[] Axis(Node node, string name, int axes, int fallback)
    {
        var values = Ints(node, name);
        if (values is null) return Enumerable.Repeat(fallback, axes).ToArray();
        if (values.Length != axes)
            throw new CondenseException($"node '{node.Name}' (Conv): {name} needs {axes} values, got [{string.Join(", ", values)}]");
        return values.Select(v => checked((int)v)).ToArray();
    }
}
