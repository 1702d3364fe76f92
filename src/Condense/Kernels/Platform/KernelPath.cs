// The instruction-set paths a kernel can run on. Cpu.cs picks one; kernels switch on it and never
// query the hardware themselves.
namespace Condense.Kernels.Platform;

/// <summary>Which micro-kernels the kernels use.</summary>
public enum KernelPath
{
    /// <summary>Plain C# loops; runs everywhere and is the reference for the others.</summary>
    Scalar,

    /// <summary>256-bit vectors with fused multiply-add (AVX2 + FMA3).</summary>
    Avx2,

    /// <summary>512-bit vectors with fused multiply-add and 8/16-bit integer lanes (AVX-512F + AVX-512BW).</summary>
    Avx512,
}
