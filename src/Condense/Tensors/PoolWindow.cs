// The window of a 2-D pooling as a public option type (kernel, stride, pads per side, dilation, ceil mode):
// the pooling layers, the autograd ops and the ONNX pooling nodes take it; the kernels take the plain
// Kernels.Pool.PoolParameters it converts to, which also holds the output-size arithmetic.
using Condense.Kernels.Pool;

namespace Condense.Tensors;

/// <summary>
/// The window of a 2-D pooling: kernel size, stride, zero/−∞ padding on each side, dilation (the step
/// between kernel taps) and whether the output size rounds up (<paramref name="CeilMode"/>).
/// </summary>
public sealed record PoolWindow(int KernelH, int KernelW, int StrideH, int StrideW,
    int PadTop = 0, int PadLeft = 0, int PadBottom = 0, int PadRight = 0,
    int DilationH = 1, int DilationW = 1, bool CeilMode = false)
{
    /// <summary>A square window as PyTorch's layers take it; the stride defaults to the kernel size.</summary>
    public static PoolWindow Square(int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        new(kernel, kernel, stride ?? kernel, stride ?? kernel, padding, padding, padding, padding, dilation, dilation, ceilMode);

    /// <summary>The output plane size for an input plane of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public (int Height, int Width) OutputSize(int height, int width) => ToParameters().OutputSize(height, width);

    /// <summary>The same window as the kernels read it.</summary>
    public PoolParameters ToParameters() =>
        new(KernelH, KernelW, StrideH, StrideW, PadTop, PadLeft, PadBottom, PadRight, DilationH, DilationW, CeilMode);

    /// <summary>The kernels' form of <paramref name="window"/> (see <see cref="ToParameters"/>).</summary>
    public static implicit operator PoolParameters(PoolWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return window.ToParameters();
    }
}
