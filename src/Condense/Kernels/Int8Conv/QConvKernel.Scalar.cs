// The scalar tile of QConv2dDirect: the same int32 sums as the vector tiles, one product at a time.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Up to 8 channel rows × 8 positions in plain C#.</summary>
internal unsafe struct QConvKernelScalar : IQConvKernel
{
    public static KernelPath Path => KernelPath.Scalar;
    public static int MaxRows => 8;
    public static int NR => 8;

    public static void Run(int rows, int pairs, int* w, short* x, int* offsets, int* bias, int* c, int ldc)
    {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < NR; j++)
            {
                int sum = bias[i];
                for (int p = 0; p < pairs; p++)
                {
                    int pair = w[p * rows + i];
                    sum += x[offsets[2 * p] + j] * (short)pair + x[offsets[2 * p + 1] + j] * (pair >> 16);
                }
                c[i * ldc + j] = sum;
            }
    }
}
