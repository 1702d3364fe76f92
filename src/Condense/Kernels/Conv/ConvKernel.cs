// The contract between the convolution driver (Conv2dDirect.cs) and its per-instruction-set tile kernels
// (ConvKernel.{Isa}.cs). A convolution has few output channels (6–64) and many output pixels, so the
// tile is a few channel rows × a wide run of pixels: the pixels fill the vector lanes and the rows are
// exactly the channels there are (a generic row count, specialised by the JIT), rather than the GEMM's
// 12-row tiles, which would multiply LeNet's 6 channels padded with 6 rows of zeros.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>A row count fixed at JIT time: each kernel is compiled once per count, with the unused rows gone.</summary>
internal interface IRows
{
    /// <summary>The number of rows.</summary>
    static abstract int Count { get; }
}

#pragma warning disable CS1591 // the row counts say what they are
internal struct Rows1 : IRows { public static int Count => 1; }
internal struct Rows2 : IRows { public static int Count => 2; }
internal struct Rows3 : IRows { public static int Count => 3; }
internal struct Rows4 : IRows { public static int Count => 4; }
internal struct Rows5 : IRows { public static int Count => 5; }
internal struct Rows6 : IRows { public static int Count => 6; }
internal struct Rows7 : IRows { public static int Count => 7; }
internal struct Rows8 : IRows { public static int Count => 8; }
internal struct Rows9 : IRows { public static int Count => 9; }
internal struct Rows10 : IRows { public static int Count => 10; }
internal struct Rows11 : IRows { public static int Count => 11; }
internal struct Rows12 : IRows { public static int Count => 12; }
#pragma warning restore CS1591

/// <summary>A rows × NR tile kernel over a packed weight panel and taps read from the padded image, and the weight-gradient dots.</summary>
internal unsafe interface IConvKernel
{
    /// <summary>The instruction set the kernel needs.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>The most rows (channels) one tile holds.</summary>
    static abstract int MaxRows { get; }

    /// <summary>Output positions per tile: a multiple of the vector width.</summary>
    static abstract int NR { get; }

    /// <summary>
    /// c[i, j] = start[i, j] + Σ_p a[p·rows + i]·x[offsets[p] + j] for i &lt; rows ≤ MaxRows, j &lt; NR, summed in order
    /// p = 0..k-1 onto the start, which is c[i, j] when <paramref name="accumulate"/>, else bias[i] (bias may be
    /// null: 0). Row p of B is tap p of the direct convolution over NR padded output positions (Conv2dDirect.cs).
    /// </summary>
    static abstract void RunDirect(int rows, int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate);

    /// <summary>The most channel rows one <see cref="RunDot"/> call takes.</summary>
    static abstract int MaxDotRows { get; }

    /// <summary>The vector width in floats: <see cref="RunDot"/>'s length is a multiple of it.</summary>
    static abstract int Lanes { get; }

    /// <summary>
    /// Weight-gradient dot products over padded positions (Conv2dDirect.cs), for rows ≤ MaxDotRows channels and
    /// taps ≤ 3 taps: dw[i·ldw + t] = start + Σ_image Σ_{j &lt; q} dy[image·dyImageStride + i·ldq + j] ·
    /// x[image·xImageStride + offsets[t] + j], start = dw[i·ldw + t] when <paramref name="accumulate"/>, else 0.
    /// offsets has 3 entries (unused ones must still point at readable memory); q is a multiple of Lanes.
    /// </summary>
    static abstract void RunDot(int rows, int taps, int images, float* dy, int dyImageStride, int ldq,
        float* x, int xImageStride, int* offsets, int q, float* dw, int ldw, bool accumulate);
}
