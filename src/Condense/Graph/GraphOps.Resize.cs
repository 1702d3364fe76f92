// ONNX Resize (opsets 10–19) and Upsample (7, 9): the output size of each axis from sizes, or floor(in · scale); the
// source coordinate of each output index by coordinate_transformation_mode (half_pixel, half_pixel_symmetric,
// pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize with its roi and
// extrapolation_value); then nearest (nearest_mode), linear or cubic (cubic_coeff_a, exclude_outside) taps, applied
// axis by axis as Tensor.Resample maps (https://onnx.ai/onnx/operators/onnx__Resize.html). Resize-10 and Upsample use
// asymmetric coordinates and ONNX Runtime's "simple" nearest rounding (ceil when shrinking, truncation otherwise).
// antialias and keep_aspect_ratio_policy other than stretch are refused.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor Resize(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        string where = $"node '{node.Name}' ({node.OpType})";
        // Resize-10 and Upsample take (X, scales); Resize-11 and later (X, roi, scales, sizes).
        bool legacy = node.OpType == OpTypes.Upsample || inputs.Length == 2;
        var roi = legacy ? null : Optional(inputs, 1);
        var scalesInput = legacy ? Optional(inputs, 1) : Optional(inputs, 2);
        var sizesInput = legacy ? null : Optional(inputs, 3);
        double[]? scales = scalesInput is { Size: > 0 } ? [.. Enumerable.Range(0, scalesInput.Size).Select(scalesInput.GetDouble)]
            : node.Attributes.TryGetValue("scales", out var attribute) ? [.. (attribute.FloatsValue ?? []).Select(v => (double)v)] : null;
        long[]? sizes = sizesInput is { Size: > 0 } ? sizesInput.ToInt64Values() : null;
        if ((scales is null) == (sizes is null)) throw new CondenseException($"{where}: exactly one of scales and sizes must be given");
        if (node.Int("antialias", 0) != 0) throw new CondenseException($"{where}: antialias is not supported");
        if (Text(node, "keep_aspect_ratio_policy", "stretch") != "stretch")
            throw new CondenseException($"{where}: keep_aspect_ratio_policy other than stretch is not supported");
        int[] axes = Ints(node, "axes") is { } a ? [.. a.Select(v => (int)(v < 0 ? v + x.Rank : v))] : [.. Enumerable.Range(0, x.Rank)];
        int count = (scales?.Length ?? sizes!.Length);
        if (count != axes.Length) throw new CondenseException($"{where}: {count} scales or sizes for {axes.Length} axes");

        string mode = Text(node, "mode", "nearest");
        if (mode == "bilinear") mode = "linear";   // Upsample-7's name for it
        string transform = legacy ? "asymmetric" : Text(node, "coordinate_transformation_mode", "half_pixel");
        string nearest = legacy ? "simple" : Text(node, "nearest_mode", "round_prefer_floor");
        if (mode is not ("nearest" or "linear" or "cubic"))
            throw new CondenseException($"{where}: mode '{mode}' is not nearest, linear or cubic");
        if (mode != "nearest" && !x.DataType.IsFloat())
            throw new CondenseException($"{where}: {mode} resizing needs a float input, got {x.DataType.OnnxName()}");
        var y = x;
        for (int k = 0; k < axes.Length; k++)
        {
            int axis = axes[k], input = x.Shape[axis];
            int output = sizes is not null ? checked((int)sizes[k]) : (int)((float)scales![k] * input);
            double scale = sizes is not null ? (double)output / input : scales![k];
            double roiStart = roi is { Size: > 0 } ? roi.GetDouble(k) : 0, roiEnd = roi is { Size: > 0 } ? roi.GetDouble(axes.Length + k) : 1;
            if (output == input && scale == 1 && transform != "tf_crop_and_resize") continue;
            if (output < 0 || !(scale > 0)) throw new CondenseException($"{where}: scale {scale} and size {output} are not positive");
            y = y.Resample(axis, Map(where, node, mode, transform, nearest, input, output, scale, roiStart, roiEnd));
        }
        return y;
    }

    private static string Text(Node node, string name, string fallback) =>
        node.Attributes.TryGetValue(name, out var a) && a.StringValue is { Length: > 0 } s ? s : fallback;

    private static ResampleMap Map(string where, Node node, string mode, string transform, string nearest, int input, int output,
        double scale, double roiStart, double roiEnd)
    {
        int taps = mode switch { "nearest" => 1, "linear" => 2, _ => 4 };
        var indices = new int[output * taps];
        var weights = new double[output * taps];
        double[]? constant = transform == "tf_crop_and_resize" ? new double[output] : null;
        double extrapolation = node.Float("extrapolation_value", 0f), a = node.Float("cubic_coeff_a", -0.75f);
        bool excludeOutside = node.Int("exclude_outside", 0) != 0;
        for (int j = 0; j < output; j++)
        {
            double source = transform switch
            {
                "half_pixel" => (j + 0.5) / scale - 0.5,
                "half_pixel_symmetric" => input / 2.0 * (1 - output / (scale * input)) + (j + 0.5) / scale - 0.5,
                "pytorch_half_pixel" => output > 1 ? (j + 0.5) / scale - 0.5 : 0,
                // The integer output length, as ONNX Runtime and PyTorch divide by (ONNX 1.12's reference used in · scale).
                "align_corners" => output == 1 ? 0 : j * (input - 1.0) / (output - 1),
                "asymmetric" => j / scale,
                "tf_half_pixel_for_nn" => (j + 0.5) / scale,
                "tf_crop_and_resize" => CropCoordinate((float)roiStart, (float)roiEnd, input, output, j),
                _ => throw new CondenseException($"{where}: coordinate_transformation_mode '{transform}' is not supported"),
            };
            if (constant is not null)
            {
                constant[j] = source < 0 || source > input - 1 ? extrapolation : double.NaN;
                if (!double.IsNaN(constant[j])) continue;
            }
            int at = j * taps;
            switch (mode)
            {
                case "nearest":
                    indices[at] = Math.Clamp(Nearest(where, nearest, source, scale < 1), 0, input - 1);
                    weights[at] = 1;
                    break;
                case "linear":
                    double clamped = Math.Clamp(source, 0, input - 1);
                    int low = (int)Math.Floor(clamped);
                    (indices[at], indices[at + 1]) = (low, Math.Min(low + 1, input - 1));
                    (weights[at], weights[at + 1]) = (1 - (clamped - low), clamped - low);
                    break;
                default:
                    int first = (int)Math.Floor(source);
                    double t = source - first, sum = 0;
                    double[] c = [((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a, ((a + 2) * t - (a + 3)) * t * t + 1,
                        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1, ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a];
                    for (int q = 0; q < 4; q++)
                    {
                        int index = first - 1 + q;
                        bool outside = index < 0 || index >= input;
                        // exclude_outside drops the taps past the edge and renormalises; otherwise the edge value repeats.
                        weights[at + q] = excludeOutside && outside ? 0 : c[q];
                        indices[at + q] = Math.Clamp(index, 0, input - 1);
                        sum += weights[at + q];
                    }
                    if (excludeOutside && sum != 0) for (int q = 0; q < 4; q++) weights[at + q] /= sum;
                    break;
            }
        }
        return new ResampleMap(output, taps, indices, weights, constant);
    }

    // In float32, as ONNX Runtime computes it: whether a coordinate on the crop box's edge (−0.9 + 0.9) lands inside the
    // image or just outside (and takes the extrapolation value) depends on that rounding.
    private static double CropCoordinate(float start, float end, int input, int output, int j) => output > 1
        ? start * (input - 1) + j * (end - start) * (input - 1) / (float)(output - 1)
        : 0.5f * (start + end) * (input - 1);

    private static int Nearest(string where, string nearestMode, double x, bool shrinking) => nearestMode switch
    {
        "round_prefer_floor" => x == Math.Floor(x) + 0.5 ? (int)Math.Floor(x) : (int)Math.Round(x, MidpointRounding.AwayFromZero),
        "round_prefer_ceil" => x == Math.Floor(x) + 0.5 ? (int)Math.Ceiling(x) : (int)Math.Round(x, MidpointRounding.AwayFromZero),
        "floor" => (int)Math.Floor(x),
        "ceil" => (int)Math.Ceiling(x),
        // ONNX Runtime's rounding before opset 11: ceil when downsampling, truncation when upsampling.
        "simple" => shrinking ? (int)Math.Ceiling(x) : (int)x,
        _ => throw new CondenseException($"{where}: nearest_mode '{nearestMode}' is not supported"),
    };
}
