// The contract between the convolution driver (Conv2dDirect.cs) and its per-instruction-set tile kernels,
// plus the scalar kernel. A convolution has few output channels (6–64) and many output pixels, so the
// tile is a few channel rows × a wide run of pixels: the pixels fill the vector lanes and the rows are
// exactly the channels there are (a generic row count, specialised by the JIT), rather than the GEMM's
// 12-row tiles, which would multiply LeNet's 6 channels padded with 6 rows of zeros.
using System.Runtime.CompilerServices;
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

/// <summary>Plain C# tile kernel (4 × 8) for CPUs without AVX2/FMA; no FMA, as GemmKernelScalar.</summary>
internal unsafe struct ConvKernelScalar : IConvKernel
{
    public static KernelPath Path => KernelPath.Scalar;
    public static int MaxRows => 4;
    public static int NR => 8;
    public static int MaxDotRows => 4;
    public static int Lanes => 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunDirect(int rows, int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate)
    {
        float* acc = stackalloc float[4 * 8];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < 8; j++) acc[i * 8 + j] = accumulate ? c[i * ldc + j] : bias is null ? 0f : bias[i];
        for (int p = 0; p < k; p++, a += rows) Step(rows, a, x + offsets[p], acc);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < 8; j++) c[i * ldc + j] = acc[i * 8 + j];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunDot(int rows, int taps, int images, float* dy, int dyImageStride, int ldq,
        float* x, int xImageStride, int* offsets, int q, float* dw, int ldw, bool accumulate)
    {
        for (int i = 0; i < rows; i++)
            for (int t = 0; t < taps; t++)
            {
                float sum = 0f;
                for (int image = 0; image < images; image++)
                {
                    float* d = dy + (long)image * dyImageStride + (long)i * ldq, xt = x + (long)image * xImageStride + offsets[t];
                    for (int j = 0; j < q; j++) sum += d[j] * xt[j];
                }
                dw[i * ldw + t] = (accumulate ? dw[i * ldw + t] : 0f) + sum;
            }
    }

    private static void Step(int rows, float* a, float* b, float* acc)
    {
        for (int i = 0; i < rows; i++)
        {
            float ai = a[i];
            float* t = acc + i * 8;
            for (int j = 0; j < 8; j++) t[j] += ai * b[j];
        }
    }
}
