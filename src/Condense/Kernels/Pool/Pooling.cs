// Max and average pooling over the spatial planes of NCHW float32 tensors, forward and backward.
// Every (n, c) plane is independent, so the planes are split between the worker threads. The window
// arithmetic (output size, ceil mode, padding per side) follows PyTorch's pooling_shape.h, which ONNX
// Runtime also implements: with ceil_mode, a last window that would start in the trailing padding is dropped.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Pool;

/// <summary>
/// The window of a 2-D pooling as the kernels read it: kernel size, stride, padding on each side, dilation and
/// ceil mode. The public form with PyTorch-style helpers is <c>Condense.Tensors.PoolWindow</c>, which converts to this.
/// </summary>
public readonly record struct PoolParameters(int KernelH, int KernelW, int StrideH, int StrideW,
    int PadTop, int PadLeft, int PadBottom, int PadRight, int DilationH, int DilationW, bool CeilMode)
{
    /// <summary>The output plane size for an input plane of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public (int Height, int Width) OutputSize(int height, int width)
    {
        Validate();
        return (OutputLength(height, KernelH, StrideH, PadTop, PadBottom, DilationH, "height"),
                OutputLength(width, KernelW, StrideW, PadLeft, PadRight, DilationW, "width"));
    }

    private void Validate()
    {
        if (KernelH < 1 || KernelW < 1 || StrideH < 1 || StrideW < 1 || DilationH < 1 || DilationW < 1)
            throw new CondenseException(
                $"pooling needs positive kernel, stride and dilation; got kernel {KernelH}×{KernelW}, stride {StrideH}×{StrideW}, " +
                $"dilation {DilationH}×{DilationW}");
        if (PadTop < 0 || PadLeft < 0 || PadBottom < 0 || PadRight < 0)
            throw new CondenseException($"pooling padding must not be negative; got {PadTop}, {PadLeft}, {PadBottom}, {PadRight}");
    }

    // out = ⌊(in + pads − dilation·(k − 1) − 1) / stride⌋ + 1, or ⌈…⌉ + 1 in ceil mode (PyTorch pooling_output_shape).
    private int OutputLength(int input, int kernel, int stride, int padBegin, int padEnd, int dilation, string axis)
    {
        int numerator = input + padBegin + padEnd - dilation * (kernel - 1) - 1;
        if (numerator < 0)
            throw new CondenseException($"pooling window ({kernel}, dilation {dilation}) is larger than the padded input {axis} {input + padBegin + padEnd}");
        int length = (CeilMode ? (numerator + stride - 1) / stride : numerator / stride) + 1;
        if (CeilMode && (length - 1) * stride >= input + padBegin) length--;
        return length;
    }
}

/// <summary>2-D max and average pooling kernels on NCHW planes.</summary>
public static class Pooling
{
    // Below this many window taps in total a call stays on one thread.
    private const long ParallelThreshold = 1 << 16;

    /// <summary>
    /// Max pooling: y[p, oh, ow] = max over the window of x[p]; x is (planes, h, w), y is (planes, outH, outW).
    /// A NaN in a window makes its output NaN (as PyTorch); a window over padding only gives −∞.
    /// </summary>
    public static void MaxForward(float[] x, float[] y, int planes, int height, int width, PoolParameters window)
    {
        var (outH, outW) = Check(x.Length, y.Length, planes, height, width, window);
        if (PoolingTiles.Fits(window, height, width))
        {
            var path = Cpu.Active;
            ForPlanes(planes, x.Length, (first, last) => PoolingTiles.Forward(x, y, first, last, height, width, average: false, path));
            return;
        }
        if (MaxPoolRows.Fits(window))
        {
            ForPlanes(planes, (long)y.Length * window.KernelH * window.KernelW,
                (first, last) => MaxPoolRows.Forward(x, y, first, last, height, width, outH, outW, window));
            return;
        }
        ForPlanes(planes, (long)y.Length * window.KernelH * window.KernelW, (first, last) =>
        {
            for (int p = first; p < last; p++)
                MaxPlane(x.AsSpan(p * height * width, height * width), y.AsSpan(p * outH * outW, outH * outW), height, width, outH, outW, window);
        });
    }

    /// <summary>
    /// The argmax of each window of a max pooling whose output is <paramref name="y"/>: the index h·w + w,
    /// within its plane, of the first tap (row-major) equal to the output (for a NaN output, the first NaN),
    /// or −1 for a window over padding only. This is where the backward pass routes the gradient; it is found
    /// after the fact so that inference does not pay for it.
    /// </summary>
    public static void MaxArgmax(float[] x, float[] y, int[] argmax, int planes, int height, int width, PoolParameters window)
    {
        var (outH, outW) = Check(x.Length, y.Length, planes, height, width, window);
        if (argmax.Length != y.Length) throw new ArgumentException("argmax must have the output's size");
        ForPlanes(planes, (long)y.Length * window.KernelH * window.KernelW, (first, last) =>
        {
            for (int p = first; p < last; p++)
                ArgmaxPlane(x.AsSpan(p * height * width, height * width), y.AsSpan(p * outH * outW, outH * outW),
                    argmax.AsSpan(p * outH * outW, outH * outW), height, width, outH, outW, window);
        });
    }

    // One plane: x is (h, w), y is (outH, outW). The window is clipped to the input first, so the taps need
    // no bounds tests, and MathF.Max (IEEE maximum: NaN-propagating) has no data-dependent branch to mispredict.
    private static void MaxPlane(ReadOnlySpan<float> x, Span<float> y, int height, int width, int outH, int outW, PoolParameters window)
    {
        for (int oh = 0; oh < outH; oh++)
        {
            var (h0, kh0, kh1) = Taps(oh, window.StrideH, window.PadTop, window.KernelH, window.DilationH, height);
            for (int ow = 0; ow < outW; ow++)
            {
                var (w0, kw0, kw1) = Taps(ow, window.StrideW, window.PadLeft, window.KernelW, window.DilationW, width);
                float best = float.NegativeInfinity;
                for (int kh = kh0; kh < kh1; kh++)
                {
                    var row = x.Slice((h0 + kh * window.DilationH) * width);
                    for (int kw = kw0; kw < kw1; kw++) best = MathF.Max(best, row[w0 + kw * window.DilationW]);
                }
                y[oh * outW + ow] = best;
            }
        }
    }

    private static void ArgmaxPlane(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<int> argmax,
        int height, int width, int outH, int outW, PoolParameters window)
    {
        for (int oh = 0; oh < outH; oh++)
        {
            var (h0, kh0, kh1) = Taps(oh, window.StrideH, window.PadTop, window.KernelH, window.DilationH, height);
            for (int ow = 0; ow < outW; ow++)
            {
                var (w0, kw0, kw1) = Taps(ow, window.StrideW, window.PadLeft, window.KernelW, window.DilationW, width);
                float best = y[oh * outW + ow];
                int found = -1;
                for (int kh = kh0; kh < kh1 && found < 0; kh++)
                    for (int kw = kw0; kw < kw1; kw++)
                    {
                        int i = (h0 + kh * window.DilationH) * width + w0 + kw * window.DilationW;
                        if (x[i] == best || (float.IsNaN(best) && float.IsNaN(x[i]))) { found = i; break; }
                    }
                argmax[oh * outW + ow] = found;
            }
        }
    }

    // The window of output o along one axis: its first input position and the taps [k0, k1) inside the input.
    private static (int Start, int K0, int K1) Taps(int o, int stride, int padBegin, int kernel, int dilation, int length)
    {
        int start = o * stride - padBegin;
        int k0 = start < 0 ? (-start + dilation - 1) / dilation : 0;
        int k1 = start > length - 1 ? 0 : Math.Min(kernel, (length - 1 - start) / dilation + 1);
        return (start, k0, Math.Max(k1, k0));
    }

    /// <summary>
    /// Max pooling backward without stored indices: writes (not adds) into <paramref name="gx"/> each output
    /// gradient at its window's argmax (as <see cref="MaxArgmax"/> finds it) and zero elsewhere.
    /// <paramref name="y"/> is the forward output for <paramref name="x"/>.
    /// </summary>
    public static void MaxBackward(float[] x, float[] y, float[] gy, float[] gx, int planes, int height, int width, PoolParameters window)
    {
        Check(x.Length, y.Length, planes, height, width, window);
        if (gx.Length != x.Length || gy.Length != y.Length) throw new ArgumentException("gradients must have the input's and the output's sizes");
        if (PoolingTiles.Fits(window, height, width))
        {
            var path = Cpu.Active;
            ForPlanes(planes, x.Length, (first, last) => PoolingTiles.MaxBackward(x, y, gy, gx, first, last, height, width, path));
            return;
        }
        var argmax = new int[y.Length];
        MaxArgmax(x, y, argmax, planes, height, width, window);
        Array.Clear(gx);
        MaxBackward(gy, argmax, gx, planes, height * width);
    }

    /// <summary>Max pooling backward: adds each output gradient into <paramref name="gx"/> at its window's argmax.</summary>
    public static void MaxBackward(float[] gy, int[] argmax, float[] gx, int planes, int inputPlaneSize)
    {
        int outPlane = gy.Length / Math.Max(planes, 1);
        ForPlanes(planes, gy.Length, (first, last) =>
        {
            for (int p = first; p < last; p++)
                for (int o = p * outPlane; o < (p + 1) * outPlane; o++)
                    if (argmax[o] >= 0) gx[p * inputPlaneSize + argmax[o]] += gy[o];
        });
    }

    /// <summary>
    /// Average pooling: y = (sum of the window's input elements) / divisor. The divisor counts the
    /// window's elements inside the input, or, with <paramref name="countIncludePad"/>, also those in the
    /// padding (but not the ceil-mode overhang beyond it), as PyTorch's avg_pool2d. Dilation must be 1. The vector paths
    /// sum rows then columns (AvgPoolRows) unless a plane has one window; the Scalar path's window-by-window loop is their
    /// reference.
    /// </summary>
    public static void AvgForward(float[] x, float[] y, int planes, int height, int width, PoolParameters window, bool countIncludePad)
    {
        var (outH, outW) = Check(x.Length, y.Length, planes, height, width, window);
        CheckNoDilation(window);
        if (PoolingTiles.Fits(window, height, width)) // no padding: the divisor is 4 either way
        {
            var path = Cpu.Active;
            ForPlanes(planes, x.Length, (first, last) => PoolingTiles.Forward(x, y, first, last, height, width, average: true, path));
            return;
        }
        // One window a plane (CNTK's whole-image AveragePool) keeps the row-major sum: IntegerConvModel.Mean gives its bits.
        if (Cpu.Active != KernelPath.Scalar && outH * outW > 1)
        {
            ForPlanes(planes, (long)y.Length * (window.KernelH + window.KernelW),
                (first, last) => AvgPoolRows.Forward(x, y, first, last, height, width, window, countIncludePad, outH, outW));
            return;
        }
        ForPlanes(planes, (long)y.Length * window.KernelH * window.KernelW, (first, last) =>
        {
            for (int p = first; p < last; p++)
            {
                int xBase = p * height * width, yBase = p * outH * outW;
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        var (h0, h1, w0, w1, divisor) = AvgWindow(oh, ow, height, width, window, countIncludePad);
                        float sum = 0f;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++) sum += x[xBase + ih * width + iw];
                        y[yBase + oh * outW + ow] = divisor > 0 ? sum / divisor : 0f;
                    }
            }
        });
    }

    /// <summary>Average pooling backward: writes into <paramref name="gx"/> the sum of gy / divisor over the windows holding each input element.</summary>
    public static void AvgBackward(float[] gy, float[] gx, int planes, int height, int width, PoolParameters window, bool countIncludePad)
    {
        var (outH, outW) = Check(gx.Length, gy.Length, planes, height, width, window);
        CheckNoDilation(window);
        if (PoolingTiles.Fits(window, height, width))
        {
            var path = Cpu.Active;
            ForPlanes(planes, gx.Length, (first, last) => PoolingTiles.AvgBackward(gy, gx, first, last, height, width, path));
            return;
        }
        Array.Clear(gx);
        ForPlanes(planes, (long)gy.Length * window.KernelH * window.KernelW, (first, last) =>
        {
            for (int p = first; p < last; p++)
            {
                int xBase = p * height * width, yBase = p * outH * outW;
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        var (h0, h1, w0, w1, divisor) = AvgWindow(oh, ow, height, width, window, countIncludePad);
                        if (divisor == 0) continue;
                        float share = gy[yBase + oh * outW + ow] / divisor;
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++) gx[xBase + ih * width + iw] += share;
                    }
            }
        });
    }

    // The window clipped to the input, and its divisor. With count_include_pad the divisor is the window
    // clipped to the padded input (PyTorch: hend = min(hstart + kH, H + pad)), so ceil-mode overhang never counts.
    private static (int H0, int H1, int W0, int W1, int Divisor) AvgWindow(int oh, int ow, int height, int width, PoolParameters window, bool countIncludePad)
    {
        var (h0, h1, rows) = AvgAxis(oh, height, window.KernelH, window.StrideH, window.PadTop, window.PadBottom, countIncludePad);
        var (w0, w1, columns) = AvgAxis(ow, width, window.KernelW, window.StrideW, window.PadLeft, window.PadRight, countIncludePad);
        return (h0, h1, w0, w1, rows * columns);
    }

    /// <summary>
    /// Output <paramref name="o"/>'s window along one axis: its taps inside the input [First, End), and its share of the divisor
    /// — the taps inside the input, or with count_include_pad those inside the padded input (the divisor is the product).
    /// </summary>
    internal static (int First, int End, int Extent) AvgAxis(int o, int size, int kernel, int stride, int padBefore, int padAfter, bool countIncludePad)
    {
        int start = o * stride - padBefore, end = Math.Min(start + kernel, size + padAfter);
        int first = Math.Max(start, 0), last = Math.Min(end, size);
        return (first, last, countIncludePad ? end - start : Math.Max(last - first, 0));
    }

    private static void CheckNoDilation(PoolParameters window)
    {
        if (window.DilationH != 1 || window.DilationW != 1)
            throw new CondenseException($"average pooling does not support dilation; got {window.DilationH}×{window.DilationW}");
    }

    private static (int OutH, int OutW) Check(int inputLength, int outputLength, int planes, int height, int width, PoolParameters window)
    {
        var (outH, outW) = window.OutputSize(height, width);
        if (inputLength != planes * height * width) throw new ArgumentException($"input has {inputLength} elements, expected {planes}×{height}×{width}");
        if (outputLength != planes * outH * outW) throw new ArgumentException($"output has {outputLength} elements, expected {planes}×{outH}×{outW}");
        return (outH, outW);
    }

    // Splits planes [0, planes) into one contiguous range per thread when the call is large enough.
    private static void ForPlanes(int planes, long work, Action<int, int> body) => ParallelRanges.For(planes, work, ParallelThreshold, body);
}
