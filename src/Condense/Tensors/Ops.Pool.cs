// Pooling ops on (N, C, H, W) tensors, after torch.nn.functional: max pooling (its backward routes the
// gradient to each window's argmax, found again from the input and output), average pooling, and global
// average / max pooling to (N, C, 1, 1). The loops are in Kernels/Pool/Pooling.cs.
using Condense.Kernels.Pool;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>2-D max pooling of an (N, C, H, W) tensor; the stride defaults to the kernel size.</summary>
    public Tensor MaxPool2d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2d(PoolWindow.Square(kernelSize, stride, padding, dilation, ceilMode));

    /// <summary>2-D max pooling of an (N, C, H, W) tensor with any window (rectangular, asymmetric padding).</summary>
    public Tensor MaxPool2d(PoolWindow window)
    {
        var (n, c, h, w) = Dims4(nameof(MaxPool2d));
        var (outH, outW) = window.OutputSize(h, w);
        var y = Uninitialized(n, c, outH, outW);
        Pooling.MaxForward(Data, y.Data, n * c, h, w, window);
        return MaxPoolRecord(y, null, window);
    }

    /// <summary>
    /// 2-D max pooling that also returns, for each output, the flat index h·W + w of its maximum within
    /// its (n, c) plane (−1 for a window over padding only; the first maximum on ties), as PyTorch's return_indices.
    /// </summary>
    public (Tensor Output, int[] Indices) MaxPool2dWithIndices(PoolWindow window)
    {
        var (n, c, h, w) = Dims4(nameof(MaxPool2d));
        var (outH, outW) = window.OutputSize(h, w);
        var y = Uninitialized(n, c, outH, outW);
        Pooling.MaxForward(Data, y.Data, n * c, h, w, window);
        var argmax = new int[y.Size];
        Pooling.MaxArgmax(Data, y.Data, argmax, n * c, h, w, window);
        return (MaxPoolRecord(y, argmax, window), argmax);
    }

    // The backward pass routes each output's gradient to its argmax, found when first needed (inference skips it).
    private Tensor MaxPoolRecord(Tensor y, int[]? argmax, PoolWindow window)
    {
        var (n, c, h, w) = Dims4(nameof(MaxPool2d));
        return Record(y, g =>
        {
            var gx = argmax is null ? GC.AllocateUninitializedArray<float>(Size) : new float[Size];
            if (argmax is null) Pooling.MaxBackward(Data, y.Data, g.Data, gx, n * c, h, w, window);
            else Pooling.MaxBackward(g.Data, argmax, gx, n * c, h * w);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>
    /// 2-D average pooling of an (N, C, H, W) tensor. <paramref name="countIncludePad"/> divides by the
    /// window size including padding (PyTorch's default); otherwise by the elements inside the input.
    /// </summary>
    public Tensor AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d(PoolWindow.Square(kernelSize, stride, padding, 1, ceilMode), countIncludePad);

    /// <summary>2-D average pooling with any window (dilation must be 1).</summary>
    public Tensor AvgPool2d(PoolWindow window, bool countIncludePad = true)
    {
        var (n, c, h, w) = Dims4(nameof(AvgPool2d));
        var (outH, outW) = window.OutputSize(h, w);
        var y = Uninitialized(n, c, outH, outW);
        Pooling.AvgForward(Data, y.Data, n * c, h, w, window, countIncludePad);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            Pooling.AvgBackward(g.Data, gx, n * c, h, w, window, countIncludePad);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>The mean over all dimensions after the second: (N, C, …) → (N, C, 1, …, 1), as ONNX GlobalAveragePool.</summary>
    public Tensor GlobalAvgPool()
    {
        var (planes, size, shape) = GlobalShape(nameof(GlobalAvgPool));
        var y = Uninitialized(shape);
        for (int p = 0; p < planes; p++) y.Data[p] = System.Numerics.Tensors.TensorPrimitives.Sum(Data.AsSpan(p * size, size)) / size;
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int p = 0; p < planes; p++) Array.Fill(gx, g.Data[p] / size, p * size, size);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>The maximum over all dimensions after the second: (N, C, …) → (N, C, 1, …, 1), as ONNX GlobalMaxPool.</summary>
    public Tensor GlobalMaxPool()
    {
        var (planes, size, shape) = GlobalShape(nameof(GlobalMaxPool));
        var y = Uninitialized(shape);
        var argmax = new int[planes];
        for (int p = 0; p < planes; p++)
        {
            argmax[p] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(Data.AsSpan(p * size, size));
            y.Data[p] = Data[p * size + argmax[p]];
        }
        return Record(y, g =>
        {
            var gx = new float[Size];
            for (int p = 0; p < planes; p++) gx[p * size + argmax[p]] = g.Data[p];
            AccumulateGrad(gx);
        }, this);
    }

    private (int N, int C, int H, int W) Dims4(string op) => Rank == 4 ? (Shape[0], Shape[1], Shape[2], Shape[3])
        : throw new CondenseException($"{op} needs an (N, C, H, W) input, got shape {Tensors.Shape.Format(Shape)}");

    private (int Planes, int PlaneSize, int[] OutputShape) GlobalShape(string op)
    {
        if (Rank < 3 || Size == 0)
            throw new CondenseException($"{op} needs an (N, C, …) input with spatial dimensions, got shape {Tensors.Shape.Format(Shape)}");
        var shape = Shape.Select((d, i) => i < 2 ? d : 1).ToArray();
        int planes = Shape[0] * Shape[1];
        return (planes, Size / planes, shape);
    }
}
