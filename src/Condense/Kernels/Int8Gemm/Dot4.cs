// The one instruction the quad int8 kernels (QGemmKernelQuads) are generic over: acc += Σ_{b<4} u8[4l+b]·s8[4l+b]
// in each int32 lane l, the semantics of vpdpbusd (Intel SDM, "VPDPBUSD"): the four uint8 × int8 products are
// exact (≤ 255·128) and their sum is added to the lane with int32 wrap-around, no saturation. VnniDot4 is that
// instruction (AvxVnni, the only form .NET 10 has); EmulatedDot4 computes the same bits with AVX2 so the quad
// layout and kernels run and are tested on CPUs without AVX-VNNI. Not vpmaddubsw: it saturates pairs at int16.
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
