// Pooling over any number of spatial axes as autograd ops: (N, C, S1, …, Sk) → (N, C, O1, …, Ok). ONNX MaxPool and
// AveragePool on 3-D inputs, and dilated AveragePool (opset 19), run here; 1-D and 2-D pooling without dilated
// averages keep the 2-D kernels of Ops.Pool.cs. The loops are in Kernels/Pool/PoolingNd.cs.
using Condense.Kernels.Pool;

namespace Condense.Tensors;

/// <summary>
/// The window of an N-D pooling: per spatial axis the kernel size, stride, padding before and after, and dilation
/// (the step between kernel taps), and whether the output sizes round up (<paramref name="CeilMode"/>; a last window
/// that would start in the trailing padding is dropped, as PyTorch and ONNX Runtime).
/// </summary>
public sealed record PoolWindowNd(int[] Kernel, int[] Strides, int[] PadsBegin, int[] PadsEnd, int[] Dilations, bool CeilMode)
{
    /// <summary>The number of spatial axes.</summary>
    public int Rank => Kernel.Length;

    /// <summary>The output's spatial sizes for an input of spatial sizes <paramref name="input"/>.</summary>
    public int[] OutputSize(int[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Length != Rank || Strides.Length != Rank || PadsBegin.Length != Rank || PadsEnd.Length != Rank || Dilations.Length != Rank)
            throw new CondenseException($"a {Rank}-D pooling window needs {Rank} strides, pads on each side and dilations for a {input.Length}-D input");
        // Each axis as the width of a 2-D window of height 1: the same output-size arithmetic and checks.
        return input.Select((size, a) =>
            new PoolParameters(1, Kernel[a], 1, Strides[a], 0, PadsBegin[a], 0, PadsEnd[a], 1, Dilations[a], CeilMode).OutputSize(1, size).Width)
            .ToArray();
    }
}

public partial class Tensor
{
    /// <summary>
    /// Max pooling of an (N, C, S1, …, Sk) tensor, with the in-plane flat index (row-major over S1…Sk) of each
    /// output's maximum (the first on ties, −1 for a window over padding only).
    /// </summary>
    public (Tensor Output, int[] Indices) MaxPoolNd(PoolWindowNd window)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (planes, taps, shape) = PoolNdShape(window, nameof(MaxPoolNd));
        var y = Uninitialized(shape);
        var argmax = new int[y.Size];
        PoolingNd.MaxForward(Data, y.Data, argmax, planes, taps);
        var result = Record(y, g =>
        {
            var gx = new float[Size];
            PoolingNd.MaxBackward(g.Data, argmax, gx, planes, taps);
            AccumulateGrad(gx);
        }, this);
        return (result, argmax);
    }

    /// <summary>
    /// Average pooling of an (N, C, S1, …, Sk) tensor. <paramref name="countIncludePad"/> divides by the window's
    /// taps inside the padded input; otherwise by those inside the input (ONNX AveragePool's count_include_pad).
    /// </summary>
    public Tensor AvgPoolNd(PoolWindowNd window, bool countIncludePad)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (planes, taps, shape) = PoolNdShape(window, nameof(AvgPoolNd));
        var y = Uninitialized(shape);
        PoolingNd.AvgForward(Data, y.Data, planes, taps, countIncludePad);
        return Record(y, g =>
        {
            var gx = new float[Size];
            PoolingNd.AvgBackward(g.Data, gx, planes, taps, countIncludePad);
            AccumulateGrad(gx);
        }, this);
    }

    private (int Planes, PoolTaps Taps, int[] OutputShape) PoolNdShape(PoolWindowNd window, string op)
    {
        if (Rank != window.Rank + 2)
            throw new CondenseException($"{op}: a {window.Rank}-D window needs an input of rank {window.Rank + 2}, got shape {Tensors.Shape.Format(Shape)}");
        var input = Shape[2..];
        var output = window.OutputSize(input);
        var taps = PoolTaps.Build(input, output, window.Kernel, window.Strides, window.PadsBegin, window.PadsEnd, window.Dilations);
        return (Shape[0] * Shape[1], taps, [Shape[0], Shape[1], .. output]);
    }
}
