// 2-D convolution as an autograd op (ONNX Conv, PyTorch conv2d): NCHW input, weight (M, C/groups, kH, kW),
// optional bias (M). The forward pass and all three gradients run on Kernels/Conv/Conv2dKernel (im2col + GEMM):
// dx = col2im(wᵀ·dy), dw = Σ_n dy·im2col(x)ᵀ, db = Σ_{n, pixels} dy.
using Condense.Kernels.Conv;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as in PyTorch and ONNX) of <paramref name="input"/> (N, C, H, W)
    /// with <paramref name="weight"/> (M, C/groups, kH, kW), plus <paramref name="bias"/> (M) if given;
    /// the result is (N, M, OH, OW).
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, Conv2dOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(options);
        var g = Conv2dGeometry.Of(input.Shape, weight.Shape, options);
        if (bias is not null && (bias.Rank != 1 || bias.Size != g.OutChannels))
            throw new CondenseException($"Conv2d bias must have shape ({g.OutChannels}), got {Tensors.Shape.Format(bias.Shape)}");
        var y = Uninitialized(g.OutputShape);
        Conv2dKernel.Forward(g, input.Data, weight.Data, bias is null ? default : bias.Data, y.Data);
        return Record(y, dy => Conv2dBackward(g, input, weight, bias, dy), bias is null ? [input, weight] : [input, weight, bias]);
    }

    /// <summary>
    /// 2-D convolution with PyTorch's integer arguments: the same stride, padding (on every side) and dilation
    /// along both axes.
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(input, weight, bias, Conv2dOptions.Square(stride, padding, dilation, groups));

    private static void Conv2dBackward(Conv2dGeometry g, Tensor input, Tensor weight, Tensor? bias, Tensor dy)
    {
        if (input.RequiresGrad)
        {
            var (buffer, beta) = input.GradTarget();
            Conv2dKernel.BackwardInput(g, weight.Data, dy.Data, buffer, accumulate: beta != 0f);
        }
        if (weight.RequiresGrad)
        {
            var (buffer, beta) = weight.GradTarget();
            Conv2dKernel.BackwardWeight(g, input.Data, dy.Data, buffer, accumulate: beta != 0f);
        }
        if (bias is not null && bias.RequiresGrad)
        {
            var (buffer, beta) = bias.GradTarget();
            Conv2dKernel.BackwardBias(g, dy.Data, buffer, accumulate: beta != 0f);
        }
    }
}
