// ONNX ops that make or reshape whole tensors: ConstantOfShape, Expand, Pad, and Dropout with its
// optional ratio / training_mode inputs (opset 12+) and keep-mask output.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // ConstantOfShape: a tensor of the given shape filled with the one-element value attribute (0 when absent).
    // The value attribute is a one-element tensor whose type the output takes (float32 0 when absent).
    internal static Tensor ConstantOfShape(Node node, Tensor shape)
    {
        var dims = shape.ToInt64Values().Select(d => (int)d).ToArray();
        if (!node.Attributes.TryGetValue("value", out var value)) return Tensor.Zeros(dims);
        var fill = value.TensorValue ?? Tensor.Scalar(value.FloatValue);
        return fill.Take(new int[Shape.Size(dims)], dims);
    }

    // Expand broadcasts x and the shape against each other (so a 1 in the shape keeps x's dimension);
    // adding zeros of that shape does exactly that, with the broadcasting gradient for free.
    internal static Tensor Expand(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var target = Required(node, inputs, 1).ToInt64Values().Select(d => (int)d).ToArray();
        var shape = Shape.Broadcast(x.Shape, target);
        if (Shape.Equal(shape, x.Shape)) return x;
        return x.DataType == DataType.Float32 ? x.Add(Tensor.Zeros(shape)) : x.Take(BroadcastIndex.Map(x.Shape, shape)!, shape);
    }

    // Pad: pads from the attribute (before opset 11) or input 1, the constant from the value attribute or
    // input 2, and (opset 18) an optional axes input naming the dimensions the pads apply to.
    internal static Tensor Pad(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var given = Optional(inputs, 1)?.ToInt64Values().Select(v => (int)v).ToArray()
            ?? Ints(node, "pads")?.Select(v => (int)v).ToArray()
            ?? throw new CondenseException($"node '{node.Name}' (Pad) has no pads");
        var pads = given;
        if (Optional(inputs, 3) is { } axesTensor)
        {
            var axes = axesTensor.ToInt64Values().Select(a => a < 0 ? (int)a + x.Rank : (int)a).ToArray();
            pads = new int[2 * x.Rank];
            for (int i = 0; i < axes.Length; i++) { pads[axes[i]] = given[i]; pads[x.Rank + axes[i]] = given[axes.Length + i]; }
        }
        float value = Optional(inputs, 2) is { Size: > 0 } v ? (float)v.GetDouble(0) : node.Float("value", 0f);
        string modeName = node.Attributes.TryGetValue("mode", out var attribute) && attribute.StringValue is { } name ? name : "constant";
        var mode = modeName switch
        {
            "constant" => PadMode.Constant,
            "reflect" => PadMode.Reflect,
            "edge" => PadMode.Edge,
            "wrap" => PadMode.Wrap,
            var m => throw new CondenseException($"node '{node.Name}' (Pad): unknown mode '{m}'"),
        };
        return x.Pad(pads, mode, value);
    }

    // Dropout: the ratio is input 1 (opset 12+) or the attribute; training_mode (input 2) overrides the
    // module's mode when given. Outside training the output is the input and the mask all ones.
    internal static Tensor[] Dropout(Node node, Tensor?[] inputs, OpContext context)
    {
        var x = Required(node, inputs, 0);
        float ratio = Optional(inputs, 1)?.Item() ?? node.Float("ratio", 0.5f);
        bool training = Optional(inputs, 2) is { } mode ? mode.Item() != 0f : context.Training;
        if (!training) return node.Outputs.Count > 1 ? [x, TypedOps.Cast(Tensor.Full(1f, x.Shape), DataType.Bool)] : [x];
        var (y, mask) = x.DropoutWithMask(ratio, context.Rng);
        return node.Outputs.Count > 1 ? [y, TypedOps.Cast(mask, DataType.Bool)] : [y];
    }

    // Gather: float32 data through the autograd op; other types through Take, indices of either integer type.
    internal static Tensor Gather(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var indices = Required(node, inputs, 1);
        int axis = (int)node.Int("axis", 0);
        if (axis < 0) axis += x.Rank;
        if (axis < 0 || axis >= x.Rank) throw new CondenseException($"node '{node.Name}' (Gather): axis out of range for rank {x.Rank}");
        if (x.DataType == DataType.Float32) return x.Gather(indices, axis);
        int n = x.Shape[axis];
        var picks = indices.ToInt64Values().Select(v => v < 0 ? v + n : v).ToArray();
        if (picks.Any(v => v < 0 || v >= n))
            throw new CondenseException($"node '{node.Name}' (Gather): an index is out of range for a dimension of size {n}");
        int[] shape = [.. x.Shape[..axis], .. indices.Shape, .. x.Shape[(axis + 1)..]];
        return x.Take(IndexMaps.Gather(x.Shape, axis, picks), shape);
    }
}
