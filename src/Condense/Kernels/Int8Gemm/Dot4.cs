// The one instruction the quad int8 kernels (QGemmKernelQuads) are generic over: acc += Σ_{b<4} u8[4l+b]·s8[4l+b]
// in each int32 lane l, the semantics of vpdpbusd (Intel SDM, "VPDPBUSD"): the four uint8 × int8 products are
// exact (≤ 255·128) and their sum is added to the lane with int32 wrap-around, no saturation. VnniDot4 is that
// instruction (AvxVnni, the only form .NET 10 has); EmulatedDot4 computes the same bits with AVX2 so the quad
// layout and kernels run and are tested on CPUs without AVX-VNNI. MaddubsDot4 is MLAS's AVX2 step (vpmaddubsw, whose
// int16 pair sums saturate, then vpmaddwd by ones): the same bits only for weights whose pairs cannot saturate.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Int8Gemm;

/// <summary>One 256-bit uint8 × int8 dot-product-of-four step.</summary>
internal interface IDot4
{
    /// <summary>acc[l] + Σ_{b&lt;4} u8[4l + b]·s8[4l + b] for each of the 8 int32 lanes, wrapping.</summary>
    static abstract Vector256<int> Accumulate(Vector256<int> acc, Vector256<byte> u8, Vector256<sbyte> s8);
}

/// <summary>vpdpbusd (AVX-VNNI).</summary>
internal struct VnniDot4 : IDot4
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Accumulate(Vector256<int> acc, Vector256<byte> u8, Vector256<sbyte> s8) =>
        AvxVnni.MultiplyWideningAndAdd(acc, u8, s8);
}

/// <summary>
/// vpdpbusd with AVX2: the even and odd bytes widened to int16 (zero-extended u8, sign-extended s8), each half
/// multiplied by vpmaddwd (two products ≤ 65,280 per int32 lane, exact), and both halves added to acc.
/// </summary>
internal struct EmulatedDot4 : IDot4
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Accumulate(Vector256<int> acc, Vector256<byte> u8, Vector256<sbyte> s8)
    {
        var xEven = (u8.AsInt16() & Vector256.Create((short)0xFF));
        var xOdd = Avx2.ShiftRightLogical(u8.AsInt16(), 8);
        var wEven = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(s8.AsInt16(), 8), 8);
        var wOdd = Avx2.ShiftRightArithmetic(s8.AsInt16(), 8);
        return acc + Avx2.MultiplyAddAdjacent(xEven, wEven) + Avx2.MultiplyAddAdjacent(xOdd, wOdd);
    }
}

/// <summary>
/// The AVX2 uint8 × int8 step of ONNX Runtime's MLAS (QgemmU8S8KernelAvx2): vpmaddubsw forms the int16 pair sums
/// u8[2j]·s8[2j] + u8[2j+1]·s8[2j+1] with signed saturation (Intel SDM, "PMADDUBSW"), vpmaddwd by ones adds the two
/// pairs of each lane in int32. Fewer instructions per multiply-add than <see cref="EmulatedDot4"/> and the pair
/// kernels, but vpdpbusd's bits only while no pair sum saturates: callers use it only for weights where every pair
/// (even byte, next byte) passes <see cref="PairIsExact"/> (PackedInt8Weights.PairSumsFitInt16).
/// </summary>
internal struct MaddubsDot4 : IDot4
{
    /// <summary>Largest positive (or negative) part of a weight pair whose product with any two uint8 inputs fits int16.</summary>
    public const int MaxPairPart = 128;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Accumulate(Vector256<int> acc, Vector256<byte> u8, Vector256<sbyte> s8) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u8, s8), Vector256.Create((short)1));

    /// <summary>
    /// True when u·a + v·b lies in int16 for every uint8 u, v: its largest value is 255·(a⁺ + b⁺) ≤ 32 767 and its smallest
    /// −255·(a⁻ + b⁻) ≥ −32 768, i.e. a⁺ + b⁺ ≤ 128 and a⁻ + b⁻ ≤ 128 — any pair in [−64, 64] (7-bit weights), 64 and 64,
    /// −128 and 0, 127 and 1; not 127 and 2.
    /// </summary>
    public static bool PairIsExact(sbyte a, sbyte b) =>
        Math.Max((int)a, 0) + Math.Max((int)b, 0) <= MaxPairPart && Math.Max(-a, 0) + Math.Max(-b, 0) <= MaxPairPart;
}
