// ONNX Conv on 3-D inputs (N, C, D, H, W) with weights (M, C/group, kD, kH, kW), built from autograd ops so it
// trains: a 3-D convolution is the sum over the kernel depth kd of 2-D convolutions of depth slices,
//   y[:, :, od] = bias + Σ_kd Conv2d(x[:, :, od·sD + kd·dD − padD], W[:, :, kd]),
// with slices in the depth padding reading zeros. For each kd one Take gathers the slice of every output depth into
// the batch, (N·outD, C, H, W), so a 3-D Conv costs kD batched Conv2d calls. Attributes as ONNX Conv: kernel_shape,
// strides, pads ([d_begin, h_begin, w_begin, d_end, h_end, w_end]), dilations, group, auto_pad.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    private static Tensor Conv3d(Node node, Tensor x, Tensor w, Tensor? b)
    {
        int n = x.Shape[0], channels = x.Shape[1], depth = x.Shape[2], height = x.Shape[3], width = x.Shape[4];
        int m = w.Shape[0], kD = w.Shape[2];
        var (stride, dilation, begin, end, group) = Conv3dAttributes(node, x.Shape, w.Shape);
        int outD = (depth + begin[0] + end[0] - dilation[0] * (kD - 1) - 1) / stride[0] + 1;
        if (depth + begin[0] + end[0] - dilation[0] * (kD - 1) - 1 < 0)
            throw new CondenseException($"node '{node.Name}' (Conv): the dilated kernel depth is larger than the padded input {Shape.Format(x.Shape)}");
        var options = new Conv2dOptions(stride[1], stride[2], begin[1], begin[2], end[1], end[2], dilation[1], dilation[2], group);

        // x flat with one zero after it: the source of every slice element in the depth padding.
        var source = Tensor.Concat([x.Reshape(x.Size), Tensor.Zeros(1)], 0);
        int plane = height * width, sliceCount = n * outD * channels;
        Tensor? sum = null;
        for (int kd = 0; kd < kD; kd++)
        {
            var depths = Enumerable.Range(0, outD).Select(od => od * stride[0] + kd * dilation[0] - begin[0]).ToArray();
            bool anyInside = depths.Any(d => d >= 0 && d < depth);
            if (!anyInside && (sum is not null || kd < kD - 1)) continue; // all padding: adds zero
            var indices = new int[sliceCount * plane];
            for (int s = 0; s < sliceCount; s++)
            {
                // Slice s is (batch, output depth, channel) = (s / (outD·C), s / C % outD, s % C).
                int batch = s / (outD * channels), id = depths[s / channels % outD], channel = s % channels;
                int from = id >= 0 && id < depth ? ((batch * channels + channel) * depth + id) * plane : -1;
                for (int p = 0; p < plane; p++) indices[s * plane + p] = from < 0 ? x.Size : from + p;
            }
            var slices = source.Take(indices, [n * outD, channels, height, width]);
            var y = Tensor.Conv2d(slices, WeightSlice(w, kd), sum is null ? b : null, options);
            sum = sum is null ? y : sum.Add(y);
        }
        // (N·outD, M, oH, oW) → (N, M, outD, oH, oW).
        return sum!.Reshape(n, outD, m, sum.Shape[2], sum.Shape[3]).Permute(0, 2, 1, 3, 4);
    }

    // W[:, :, kd] as a 2-D weight (M, C/group, kH, kW).
    private static Tensor WeightSlice(Tensor w, int kd)
    {
        int outer = w.Shape[0] * w.Shape[1], kD = w.Shape[2], plane = w.Shape[3] * w.Shape[4];
        var indices = new int[outer * plane];
        for (int o = 0; o < outer; o++)
            for (int p = 0; p < plane; p++) indices[o * plane + p] = (o * kD + kd) * plane + p;
        return w.Take(indices, [w.Shape[0], w.Shape[1], w.Shape[3], w.Shape[4]]);
    }

    // Per axis (D, H, W): stride, dilation, padding before and after (auto_pad resolved), and the group count.
    private static (int[] Stride, int[] Dilation, int[] Begin, int[] End, int Group) Conv3dAttributes(Node node, int[] input, int[] weight)
    {
        var kernel = Ints(node, "kernel_shape");
        if (kernel is not null && !kernel.SequenceEqual(weight[2..].Select(k => (long)k)))
            throw new CondenseException(
                $"node '{node.Name}' (Conv): kernel_shape [{string.Join(", ", kernel)}] does not match the weight {Shape.Format(weight)}");
        var stride = Axis(node, "strides", 3, 1);
        var dilation = Axis(node, "dilations", 3, 1);
        var pads = Ints(node, "pads") ?? new long[6];
        if (pads.Length != 6)
            throw new CondenseException($"node '{node.Name}' (Conv): pads needs 6 values, got [{string.Join(", ", pads)}]");
        if (stride.Any(v => v < 1) || dilation.Any(v => v < 1) || pads.Any(v => v < 0))
            throw new CondenseException($"node '{node.Name}' (Conv): strides and dilations must be positive and pads not negative");
        int[] begin = pads[..3].Select(p => checked((int)p)).ToArray(), end = pads[3..].Select(p => checked((int)p)).ToArray();
        string autoPad = node.Attributes.TryGetValue("auto_pad", out var a) && a.StringValue is { } text ? text : "NOTSET";
        switch (autoPad)
        {
            case "NOTSET" or "": break;
            case "VALID": begin = new int[3]; end = new int[3]; break;
            case "SAME_UPPER" or "SAME_LOWER":
                for (int i = 0; i < 3; i++)
                {
                    int output = (input[i + 2] + stride[i] - 1) / stride[i];
                    int total = Math.Max(0, (output - 1) * stride[i] + dilation[i] * (weight[i + 2] - 1) + 1 - input[i + 2]);
                    begin[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                    end[i] = total - begin[i];
                }
                break;
            default: throw new CondenseException($"node '{node.Name}' (Conv): unknown auto_pad '{autoPad}'");
        }
        int group = checked((int)node.Int("group", 1));
        if (group < 1 || input[1] != weight[1] * group || weight[0] % group != 0)
            throw new CondenseException(
                $"node '{node.Name}' (Conv): group {group} does not fit input {Shape.Format(input)} and weight {Shape.Format(weight)}");
        return (stride, dilation, begin, end, group);
    }
}
