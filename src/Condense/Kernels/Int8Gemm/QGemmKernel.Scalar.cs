// The scalar int8 micro-kernel: a 4-row × 16-channel tile in plain C# for CPUs without AVX2, reading the int16-pair
// layout (QGemmKernel.cs) the obvious way. The sums are the vector kernels' exact int32 sums, one product at a time.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>4 × 16 tile in plain C#: the packed layouts read the obvious way.</summary>
internal unsafe struct QGemmKernelScalar : IQGemmKernel
{
    public static KernelPath Path => KernelPath.Scalar;
    public static int MR => 4;
    public static QGemmLayout Layout => QGemmLayout.Pairs;
    public static int Panels => 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid)
    {
        for (int i = 0; i < 4; i++) Rows(kPairs, a + i, 4, b, offset, c + i * ldc, nValid);
    }

    public static void Row(int kPairs, int* a, sbyte* b, int panelStride, int* offset, int* c, int nValid) =>
        Rows(kPairs, a, 1, b, offset, c, nValid);

    private static void Rows(int kPairs, int* a, int aStride, sbyte* b, int* offset, int* c, int nValid)
    {
        for (int j = 0; j < nValid; j++)
        {
            int sum = offset[j];
            sbyte* w = b + 2 * j;
            for (int p = 0; p < kPairs; p++)
            {
                int pair = a[p * aStride];
                sum += (short)pair * w[p * 32] + (pair >> 16) * w[p * 32 + 1];
            }
            c[j] = sum;
        }
    }
}
