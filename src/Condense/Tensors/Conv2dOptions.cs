// The attributes of a 2-D convolution as a public option type: what ONNX Conv puts in attributes (strides,
// pads as [top, left, bottom, right], dilations, group). The Conv2d layer, the autograd op, the ONNX Conv
// node and the passes take it; the kernels take the plain Kernels.Conv.ConvParameters it converts to.
using Condense.Kernels.Conv;

namespace Condense.Tensors;

/// <summary>
/// Stride, padding (per side), dilation and groups of a 2-D convolution, as ONNX Conv's attributes
/// (<c>strides</c>, <c>pads</c> = [top, left, bottom, right], <c>dilations</c>, <c>group</c>).
/// </summary>
public sealed record Conv2dOptions(int StrideH = 1, int StrideW = 1, int PadTop = 0, int PadLeft = 0,
    int PadBottom = 0, int PadRight = 0, int DilationH = 1, int DilationW = 1, int Groups = 1)
{
    /// <summary>Stride 1, no padding, no dilation, one group.</summary>
    public static Conv2dOptions Default { get; } = new();

    /// <summary>The same stride, padding and dilation along both axes and on every side (PyTorch's int arguments).</summary>
    public static Conv2dOptions Square(int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        new(stride, stride, padding, padding, padding, padding, dilation, dilation, groups);

    /// <summary>Throws a one-line <see cref="CondenseException"/> if a value is out of range.</summary>
    public void Validate() => ToParameters().Validate();

    /// <summary>The same values as the kernels read them.</summary>
    public ConvParameters ToParameters() =>
        new(StrideH, StrideW, PadTop, PadLeft, PadBottom, PadRight, DilationH, DilationW, Groups);

    /// <summary>The kernels' form of <paramref name="options"/> (see <see cref="ToParameters"/>).</summary>
    public static implicit operator ConvParameters(Conv2dOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ToParameters();
    }

    /// <summary>The public form of the kernels' <paramref name="parameters"/> (for code holding a geometry's options).</summary>
    public static implicit operator Conv2dOptions(ConvParameters parameters) =>
        new(parameters.StrideH, parameters.StrideW, parameters.PadTop, parameters.PadLeft, parameters.PadBottom,
            parameters.PadRight, parameters.DilationH, parameters.DilationW, parameters.Groups);
}
