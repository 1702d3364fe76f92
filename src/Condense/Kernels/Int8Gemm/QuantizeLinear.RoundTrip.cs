// An activation's quantize-then-dequantize (the QDQ pair a static-quantized graph puts on every layer input) in one pass over
// floats: x̂ = (clamp(round(x / scale) + zeroPoint, qMin, qMax) − zeroPoint) · scale, the scalar formulas of QuantizeLinear.cs
// on 8 or 16 lanes — the same float32 division, rounding to nearest even, the zero point added in float, NaN to the zero point,
// and the integer difference (exact in float for 8-bit codes) times the scale. Equal bit for bit to the two ops in turn.
// The graph's QuantizeDequantizeLinear op splits large tensors between threads (LanePass.InChunks).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

internal static unsafe partial class QuantizeLinear
{
    /// <summary>y[i] = Dequantize(Quantize(x[i], scale, zeroPoint, qMin, qMax), scale, zeroPoint), on the active kernel path.</summary>
    public static void RoundTrip(ReadOnlySpan<float> x, float scale, int zeroPoint, int qMin, int qMax, Span<float> y) =>
        RoundTrip(Cpu.Active, x, scale, zeroPoint, qMin, qMax, y);

    /// <summary>The round trip on <paramref name="path"/> (worker threads take it as an argument: Cpu.Active may be a per-thread override).</summary>
    internal static void RoundTrip(KernelPath path, ReadOnlySpan<float> x, float scale, int zeroPoint, int qMin, int qMax, Span<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"x holds {x.Length} values, y {y.Length}", nameof(y));
        int i = path == KernelPath.Avx512 && Avx512F.IsSupported ? RoundTripAvx512(x, scale, zeroPoint, qMin, qMax, y)
            : path != KernelPath.Scalar && Avx.IsSupported ? RoundTripAvx(x, scale, zeroPoint, qMin, qMax, y) : 0;
        for (; i < x.Length; i++) y[i] = Dequantize(Quantize(x[i], scale, zeroPoint, qMin, qMax), scale, zeroPoint);
    }

    // The 8-lane loop on 16 lanes: the same operations, so the same bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RoundTripAvx512(ReadOnlySpan<float> x, float scale, int zeroPoint, int qMin, int qMax, Span<float> y)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        var s = Vector512.Create(scale); var z = Vector512.Create((float)zeroPoint);
        var lo = Vector512.Create((float)qMin); var hi = Vector512.Create((float)qMax);
        int i = 0;
        for (; i <= x.Length - 16; i += 16)
        {
            var r = Avx512F.RoundScale(Avx512F.Divide(Vector512.LoadUnsafe(ref px, (nuint)i), s), 0) + z;   // round half to even
            r = Vector512.ConditionalSelect(Vector512.Equals(r, r), r, z);   // NaN → zero point
            ((Avx512F.Min(Avx512F.Max(r, lo), hi) - z) * s).StoreUnsafe(ref py, (nuint)i);
        }
        return i;
    }

    // Returns how many values it wrote (a multiple of 8); the scalar loop does the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RoundTripAvx(ReadOnlySpan<float> x, float scale, int zeroPoint, int qMin, int qMax, Span<float> y)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        var s = Vector256.Create(scale); var z = Vector256.Create((float)zeroPoint);
        var lo = Vector256.Create((float)qMin); var hi = Vector256.Create((float)qMax);
        int i = 0;
        for (; i <= x.Length - 8; i += 8)
        {
            var r = Avx.RoundToNearestInteger(Avx.Divide(Vector256.LoadUnsafe(ref px, (nuint)i), s)) + z;
            r = Vector256.ConditionalSelect(Vector256.Equals(r, r), r, z);   // NaN → zero point
            ((Avx.Min(Avx.Max(r, lo), hi) - z) * s).StoreUnsafe(ref py, (nuint)i);
        }
        return i;
    }
}
