// The scalar convolution tile: 4 channel rows × 8 output positions in plain C# for CPUs without AVX2/FMA, under the
// same driver (Conv2dDirect.cs) and contract (ConvKernel.cs) as the vector tiles; no FMA, as GemmKernelScalar.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

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
