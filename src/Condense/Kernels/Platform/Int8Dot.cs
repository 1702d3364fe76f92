// How the int8 kernels form their integer dot products, chosen beside the KernelPath (Cpu.cs picks both). The
// int16 pairs of vpmaddwd run on every AVX2/AVX-512 CPU at the fp32 FMA rate; the uint8 × int8 quads of vpdpbusd
// (Intel SDM, "VPDPBUSD — Multiply and Add Unsigned and Signed Bytes") do twice the multiply-adds per instruction
// but .NET 10 exposes them only as AvxVnni (VEX, 256-bit), so they need the AVX-VNNI CPUID bit; their 512-bit
// EVEX form (AVX-512 VNNI) is reached through emitted machine code instead. Without VNNI, ONNX Runtime's quads are
// vpmaddubsw + vpmaddwd, exact only for weights whose int16 pair sums cannot saturate (7-bit weights): MaddubsQuads
// takes them for such weights and leaves the others on Pairs, so every result stays exact.
namespace Condense.Kernels.Platform;

/// <summary>The integer dot-product instruction of the int8 kernels (QGemm).</summary>
public enum Int8Dot
{
    /// <summary>Inputs widened to int16 and multiplied in pairs (vpmaddwd); runs on every SIMD path.</summary>
    Pairs,

    /// <summary>uint8 × int8 quads with AVX-VNNI vpdpbusd (256-bit): 4 multiply-adds per int32 lane.</summary>
    Quads,

    /// <summary>
    /// The <see cref="Quads"/> kernels with vpdpbusd emulated exactly by AVX2 (widen, vpmaddwd twice): slower than
    /// <see cref="Pairs"/>, it exists so that the quad layout and kernels are tested on CPUs without AVX-VNNI.
    /// </summary>
    EmulatedQuads,

    /// <summary>
    /// uint8 × int8 quads with zmm vpdpbusd (AVX-512 VNNI, 512-bit): 64 multiply-adds per instruction, from machine code
    /// emitted at run time (Int8Gemm/Jit), since .NET 10 has no intrinsic for it. Linux x86-64 only.
    /// </summary>
    JitZmmQuads,

    /// <summary>
    /// uint8 × int8 quads with AVX2 vpmaddubsw + vpmaddwd (ONNX Runtime's AVX2 step) for weight matrices whose int16 pair
    /// sums cannot saturate (every pair's positive and negative parts at most 128, e.g. 7-bit weights); any other weight
    /// runs <see cref="Pairs"/>. The default on AVX2 CPUs without AVX-VNNI or AVX-512.
    /// </summary>
    MaddubsQuads,
}
