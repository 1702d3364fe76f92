// The float epilogue of the integer GEMM for dynamic int8 MatMuls (ONNX Runtime's DynamicQuantizeMatMul and
// MatMulIntegerToFloat): y[o] = float(acc[o])·scale[o] + bias[o], scale[o] = s_x·s_w[o], applied to each block of
// int32 sums while it is in cache (QGemmDriver's fused path) instead of in a pass over an m × n int32 array after the
// GEMM. The conversion is exact for |acc| ≤ 2^24 and rounds as float otherwise; the product and the sum are rounded
// separately (no FMA), on every path, so the lanes give the scalar row's bits. The scalar row is the specification.
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>int32 sums to float with a scale per column and an optional bias.</summary>
internal static unsafe class Dequantize
{
    /// <summary>y[o] = float(acc[o])·scale[o] (+ bias[o]) for o &lt; count, on <paramref name="path"/>'s lanes.</summary>
    internal static void RowCore(KernelPath path, int* acc, float* scale, float* bias, int count, float* y)
    {
        int j = 0;
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated)
            for (; j <= count - 16; j += 16)
            {
                var v = Vector512.ConvertToSingle(Vector512.Load(acc + j)) * Vector512.Load(scale + j);
                (bias == null ? v : v + Vector512.Load(bias + j)).Store(y + j);
            }
        else if (path != KernelPath.Scalar && Vector256.IsHardwareAccelerated)
            for (; j <= count - 8; j += 8)
            {
                var v = Vector256.ConvertToSingle(Vector256.Load(acc + j)) * Vector256.Load(scale + j);
                (bias == null ? v : v + Vector256.Load(bias + j)).Store(y + j);
            }
        RowScalar(acc + j, scale + j, bias == null ? null : bias + j, count - j, y + j);
    }

    /// <summary>The scalar row: the specification of the vector rows.</summary>
    internal static void RowScalar(int* acc, float* scale, float* bias, int count, float* y)
    {
        for (int o = 0; o < count; o++)
        {
            float v = acc[o] * scale[o];
            y[o] = bias == null ? v : v + bias[o];
        }
    }
}
