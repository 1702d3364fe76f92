// The shape of a 2-D convolution, shared by the kernels, the autograd op and the integer engine.
// ConvParameters holds what ONNX puts in attributes (strides, pads as [top, left, bottom, right], dilations,
// group; the public Tensors.Conv2dOptions converts to it); Conv2dGeometry adds the tensor sizes and derives
// the output size, the im2col matrix and the per-group GEMM dimensions.
namespace Condense.Kernels.Conv;

/// <summary>
/// Stride, padding (per side), dilation and groups of a 2-D convolution as the kernels read them; the public
/// form with PyTorch-style helpers is <c>Condense.Tensors.Conv2dOptions</c>, which converts to this.
/// </summary>
public readonly record struct ConvParameters(int StrideH, int StrideW, int PadTop, int PadLeft,
    int PadBottom, int PadRight, int DilationH, int DilationW, int Groups)
{
    /// <summary>Throws a one-line <see cref="CondenseException"/> if a value is out of range.</summary>
    public void Validate()
    {
        if (StrideH < 1 || StrideW < 1) throw new CondenseException($"Conv2d strides must be positive, got ({StrideH}, {StrideW})");
        if (DilationH < 1 || DilationW < 1) throw new CondenseException($"Conv2d dilations must be positive, got ({DilationH}, {DilationW})");
        if (PadTop < 0 || PadLeft < 0 || PadBottom < 0 || PadRight < 0)
            throw new CondenseException($"Conv2d pads must not be negative, got [{PadTop}, {PadLeft}, {PadBottom}, {PadRight}]");
        if (Groups < 1) throw new CondenseException($"Conv2d groups must be positive, got {Groups}");
    }
}

/// <summary>
/// One convolution problem: input x (N, C, H, W), weight w (M, C/groups, kH, kW), output y (N, M, OH, OW).
/// Per image and group the convolution is the GEMM y_g (M/g × OH·OW) = w_g (M/g × C/g·kH·kW) · col_g,
/// where col_g (C/g·kH·kW × OH·OW) is the im2col matrix of the group's input channels (Im2Col.cs).
/// </summary>
public sealed record Conv2dGeometry
{
    /// <summary>Checks the sizes and derives the output size; a mismatch is a one-line <see cref="CondenseException"/>.</summary>
    public Conv2dGeometry(int batch, int inChannels, int height, int width, int outChannels, int kernelH, int kernelW, ConvParameters options)
    {
        options.Validate();
        if (batch < 0 || inChannels < 1 || height < 1 || width < 1 || outChannels < 1 || kernelH < 1 || kernelW < 1)
            throw new CondenseException(
                $"Conv2d sizes must be positive: input ({batch}, {inChannels}, {height}, {width}), weight ({outChannels}, ·, {kernelH}, {kernelW})");
        if (inChannels % options.Groups != 0 || outChannels % options.Groups != 0)
            throw new CondenseException(
                $"Conv2d with {options.Groups} groups needs input channels ({inChannels}) and output channels ({outChannels}) divisible by the groups");
        (Batch, InChannels, Height, Width, OutChannels, KernelH, KernelW, Options) =
            (batch, inChannels, height, width, outChannels, kernelH, kernelW, options);
        // ONNX Conv: out = floor((in + pad_begin + pad_end − dilation·(k − 1) − 1) / stride) + 1.
        int spanH = options.DilationH * (kernelH - 1) + 1, spanW = options.DilationW * (kernelW - 1) + 1;
        int paddedH = height + options.PadTop + options.PadBottom, paddedW = width + options.PadLeft + options.PadRight;
        if (paddedH < spanH || paddedW < spanW)
            throw new CondenseException(
                $"Conv2d kernel {kernelH}×{kernelW} (dilation {options.DilationH}×{options.DilationW}) is larger than the padded input {paddedH}×{paddedW}");
        OutHeight = (paddedH - spanH) / options.StrideH + 1;
        OutWidth = (paddedW - spanW) / options.StrideW + 1;
    }

    /// <summary>The geometry of input shape (N, C, H, W) and weight shape (M, C/groups, kH, kW).</summary>
    public static Conv2dGeometry Of(int[] inputShape, int[] weightShape, ConvParameters options)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(weightShape);
        if (inputShape.Length != 4)
            throw new CondenseException($"Conv2d needs an input of shape (N, C, H, W), got {KernelShape.Format(inputShape)}");
        if (weightShape.Length != 4)
            throw new CondenseException($"Conv2d needs a weight of shape (out, in/groups, kH, kW), got {KernelShape.Format(weightShape)}");
        if (weightShape[1] * options.Groups != inputShape[1])
            throw new CondenseException(
                $"Conv2d weight {KernelShape.Format(weightShape)} with {options.Groups} group(s) expects {weightShape[1] * options.Groups} input channels, " +
                $"the input {KernelShape.Format(inputShape)} has {inputShape[1]}");
        return new(inputShape[0], inputShape[1], inputShape[2], inputShape[3], weightShape[0], weightShape[2], weightShape[3], options);
    }

    /// <summary>Images in the batch (N).</summary>
    public int Batch { get; }
    /// <summary>Input channels (C).</summary>
    public int InChannels { get; }
    /// <summary>Input height (H).</summary>
    public int Height { get; }
    /// <summary>Input width (W).</summary>
    public int Width { get; }
    /// <summary>Output channels (M).</summary>
    public int OutChannels { get; }
    /// <summary>Kernel height (kH).</summary>
    public int KernelH { get; }
    /// <summary>Kernel width (kW).</summary>
    public int KernelW { get; }
    /// <summary>Stride, padding, dilation, groups.</summary>
    public ConvParameters Options { get; }
    /// <summary>Output height (OH).</summary>
    public int OutHeight { get; }
    /// <summary>Output width (OW).</summary>
    public int OutWidth { get; }

    /// <summary>Groups (g).</summary>
    public int Groups => Options.Groups;
    /// <summary>Input channels per group (C/g).</summary>
    public int InPerGroup => InChannels / Options.Groups;
    /// <summary>Output channels per group (M/g).</summary>
    public int OutPerGroup => OutChannels / Options.Groups;
    /// <summary>Rows of a group's im2col matrix and columns of its weight matrix: C/g · kH · kW.</summary>
    public int ColumnRows => InPerGroup * KernelH * KernelW;
    /// <summary>Output pixels per channel (OH · OW): the columns of the im2col matrix.</summary>
    public int OutPixels => OutHeight * OutWidth;
    /// <summary>Input pixels per channel (H · W).</summary>
    public int InPixels => Height * Width;

    /// <summary>The input shape (N, C, H, W).</summary>
    public int[] InputShape => [Batch, InChannels, Height, Width];
    /// <summary>The weight shape (M, C/g, kH, kW).</summary>
    public int[] WeightShape => [OutChannels, InPerGroup, KernelH, KernelW];
    /// <summary>The output shape (N, M, OH, OW).</summary>
    public int[] OutputShape => [Batch, OutChannels, OutHeight, OutWidth];

    /// <summary>Multiply-adds × 2 of the forward pass (each backward product costs the same).</summary>
    public long Flops => 2L * Batch * OutChannels * OutPixels * ColumnRows;
}
