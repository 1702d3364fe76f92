// 2-D transposed convolution (ONNX ConvTranspose, PyTorch conv_transpose2d) as an autograd op. It is the input
// gradient of the convolution it transposes: with that Conv2d taking (N, M, OH, OW) to (N, C, H, W) by the weight
// (C, M/groups, kH, kW) — ConvTranspose's own weight layout — the forward pass is Conv2dKernel.BackwardInput, the
// input gradient is the Conv2d forward pass, and the weight gradient is Conv2d's weight gradient with the roles of
// input and output gradient exchanged (Dumoulin and Visin 2016, "A guide to convolution arithmetic", §4).
using Condense.Kernels.Conv;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// Transposed convolution of <paramref name="input"/> (N, C, H, W) by <paramref name="weight"/> (C, M/groups, kH, kW),
    /// plus <paramref name="bias"/> (M) if given, to an output of height <paramref name="outputHeight"/> and width
    /// <paramref name="outputWidth"/> (the caller resolves output_padding and output_shape into these and the pads).
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias, Conv2dOptions options, int outputHeight, int outputWidth)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(options);
        if (input.Rank != 4 || weight.Rank != 4 || weight.Shape[0] != input.Shape[1])
            throw new CondenseException($"ConvTranspose2d needs input (N, C, H, W) and weight (C, M/groups, kH, kW); got "
                + $"{Tensors.Shape.Format(input.Shape)} and {Tensors.Shape.Format(weight.Shape)}");
        int outChannels = weight.Shape[1] * options.Groups;
        var g = Conv2dGeometry.Of([input.Shape[0], outChannels, outputHeight, outputWidth], weight.Shape, options);
        if (!g.OutputShape.SequenceEqual(input.Shape))
            throw new CondenseException($"ConvTranspose2d: an output of {outputHeight}×{outputWidth} does not give back an input of "
                + $"{Tensors.Shape.Format(input.Shape)} with these strides, pads and dilations");
        if (bias is not null && (bias.Rank != 1 || bias.Size != outChannels))
            throw new CondenseException($"ConvTranspose2d bias must have shape ({outChannels}), got {Tensors.Shape.Format(bias.Shape)}");
        var y = Zeros(input.Shape[0], outChannels, outputHeight, outputWidth);
        Conv2dKernel.BackwardInput(g, weight.Data, input.Data, y.Data, accumulate: false);
        int plane = outputHeight * outputWidth;
        if (bias is not null)
            for (int n = 0; n < input.Shape[0]; n++)
                for (int m = 0; m < outChannels; m++)
                {
                    var channel = y.Data.AsSpan((n * outChannels + m) * plane, plane);
                    System.Numerics.Tensors.TensorPrimitives.Add(channel, bias.Data[m], channel);
                }
        return Record(y, dy => ConvTransposeBackward(g, input, weight, bias, dy, plane), bias is null ? [input, weight] : [input, weight, bias]);
    }

    private static void ConvTransposeBackward(Conv2dGeometry g, Tensor input, Tensor weight, Tensor? bias, Tensor dy, int plane)
    {
        if (input.RequiresGrad)
        {
            var dx = new float[input.Size];
            Conv2dKernel.Forward(g, dy.Data, weight.Data, default, dx);
            input.AccumulateGrad(dx);
        }
        if (weight.RequiresGrad)
        {
            var dw = new float[weight.Size];
            Conv2dKernel.BackwardWeight(g, dy.Data, input.Data, dw, accumulate: false);
            weight.AccumulateGrad(dw);
        }
        if (bias is not null && bias.RequiresGrad)
        {
            int channels = bias.Size, batch = dy.Size / (channels * plane);
            var db = new float[channels];
            for (int n = 0; n < batch; n++)
                for (int m = 0; m < channels; m++)
                {
                    double sum = 0;
                    foreach (float v in dy.Data.AsSpan((n * channels + m) * plane, plane)) sum += v;
                    db[m] += (float)sum;
                }
            bias.AccumulateGrad(db);
        }
    }
}
