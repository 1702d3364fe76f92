// The contract between the convolution driver (Conv2dFused.cs) and its per-instruction-set tile kernels,
// plus the scalar kernel. A convolution has few output channels (6–64) and many output pixels, so the
// tile is a few channel rows × a wide run of pixels: the pixels fill the vector lanes and the rows are
// exactly the channels there are (a generic row count, specialised by the JIT), rather than the GEMM's
// 12-row tiles, which would multiply LeNet's 6 channels padded with 6 rows of zeros.
using System.Runtime.CompilerServices;

namespace Condense.Kernels;

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
#pragma warning restore CS1591

/// <summary>A rows × NR tile kernel over a packed weight panel and a packed patch panel.</summary>
internal unsafe interface IConvKernel
{
    /// <summary>The instruction set the kernel needs.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>The most rows (channels) one tile holds.</summary>
    static abstract int MaxRows { get; }

    /// <summary>Columns (pixels, or weight-gradient entries) per tile: a multiple of the vector width.</summary>
    static abstract int NR { get; }

    /// <summary>
    /// c[i, j] = start[i, j] + Σ_p a[p·rows + i]·b[p·NR + j] for i &lt; rows ≤ MaxRows, j &lt; NR, summed in order
    /// p = 0..k-1 onto the start, which is c[i, j] when <paramref name="accumulate"/>, else bias[i] (bias may
    /// be null: 0).
    /// </summary>
    static abstract void Run(int rows, int k, float* a, float* b, float* c, int ldc, float* bias, bool accumulate);

    /// <summary>
    /// As <see cref="Run"/> with B read straight from memory: row p of B is the NR floats at x + offsets[p]
    /// (the direct convolution's tap p over a run of padded-image positions, Conv2dDirect.cs).
    /// </summary>
    static abstract void RunDirect(int rows, int k, float* a, float* x, int* offsets, float* c, int ldc, float* bias, bool accumulate);
}

/// <summary>Plain C# tile kernel (4 × 8) for CPUs without AVX2/FMA; no FMA, as MicroKernelScalar.</summary>
internal unsafe struct ConvKernelScalar : IConvKernel
{
    public static KernelPath Path => KernelPath.Scalar;
    public static int MaxRows => 4;
    public static int NR => 8;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int rows, int k, float* a, float* b, float* c, int ldc, float* bias, bool accumulate)
    {
        float* acc = stackalloc float[4 * 8];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < 8; j++) acc[i * 8 + j] = accumulate ? c[i * ldc + j] : bias is null ? 0f : bias[i];
        for (int p = 0; p < k; p++, a += rows, b += 8) Step(rows, a, b, acc);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < 8; j++) c[i * ldc + j] = acc[i * 8 + j];
    }

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
