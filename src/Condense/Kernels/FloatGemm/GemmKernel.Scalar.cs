// Scalar micro-kernel: a 4×4 tile in plain C# for CPUs without AVX2/FMA. It runs under the same driver
// as the vector kernels, so blocking and packing are tested on every path. No FMA here: on a CPU
// without FMA hardware MathF.FusedMultiplyAdd would fall back to slow software emulation.
using System.Runtime.CompilerServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.FloatGemm;

/// <summary>4×4 fp32 tile kernel without vector instructions.</summary>
internal unsafe struct GemmKernelScalar : IGemmKernel
{
    public static KernelPath Path => KernelPath.Scalar;
    public static int MR => 4;
    public static int NR => 4;

    public static void Run(int kc, float* a, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta) =>
        Run(kc, a, 1, 4, b, c, ldc, mr, nr, alpha, beta);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint row, nint step, float* b, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        float* acc = stackalloc float[16];
        new Span<float>(acc, 16).Clear();
        for (int p = 0; p < kc; p++, a += step, b += 4)
        {
            for (int i = 0; i < 4; i++)
            {
                float ai = a[i * row];
                float* sums = acc + i * 4;
                sums[0] += ai * b[0]; sums[1] += ai * b[1]; sums[2] += ai * b[2]; sums[3] += ai * b[3];
            }
        }
        for (int i = 0; i < mr; i++)
        {
            float* ci = c + i * ldc, t = acc + i * 4;
            if (beta == 0f)
                for (int j = 0; j < nr; j++) ci[j] = alpha * t[j];
            else
                for (int j = 0; j < nr; j++) ci[j] = alpha * t[j] + beta * ci[j];
        }
    }
}
