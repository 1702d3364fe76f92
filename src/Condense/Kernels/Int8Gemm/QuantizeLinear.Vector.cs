// QuantizeLinear of a float row into uint8, the input step of the integer engine: the scalar formula of
// QuantizeLinear.cs on 8 lanes (AVX, available on both vector paths). Equal bit for bit: the same float32
// division, vroundps in round-to-nearest-even mode, the zero point added in float, NaN mapped to the zero
// point, then a clamp to [0, 255] that makes the int32 conversion and the narrowing exact.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

internal static unsafe partial class QuantizeLinear
{
    /// <summary>q[i] = Quantize(x[i], scale, zeroPoint, 0, 255) for every i, on the active kernel path.</summary>
    public static void QuantizeToByte(ReadOnlySpan<float> x, float scale, byte zeroPoint, Span<byte> q)
    {
        if (q.Length != x.Length) throw new ArgumentException($"x holds {x.Length} values, q {q.Length}", nameof(q));
        QuantizeToByte(Cpu.Active, x, scale, zeroPoint, q);
    }

    // Worker threads take the path as an argument: Cpu.Active may be a per-thread override (Cpu.Force).
    private static void QuantizeToByte(KernelPath path, ReadOnlySpan<float> x, float scale, byte zeroPoint, Span<byte> q)
    {
        int i = 0;
        if (path == KernelPath.Avx512) i = QuantizeToByteAvx512(x, scale, zeroPoint, q);
        else if (path != KernelPath.Scalar) i = QuantizeToByteAvx(x, scale, zeroPoint, q);
        for (; i < x.Length; i++) q[i] = (byte)Quantize(x[i], scale, zeroPoint, byte.MinValue, byte.MaxValue);
    }

    // Returns how many values it wrote (a multiple of 8); the scalar loop does the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int QuantizeToByteAvx(ReadOnlySpan<float> x, float scale, byte zeroPoint, Span<byte> q)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref byte pq = ref MemoryMarshal.GetReference(q);
        var s = Vector256.Create(scale); var z = Vector256.Create((float)zeroPoint);
        var lo = Vector256<float>.Zero; var hi = Vector256.Create(255f);
        int i = 0;
        for (; i <= x.Length - 8; i += 8)
        {
            var r = Avx.RoundToNearestInteger(Avx.Divide(Vector256.LoadUnsafe(ref px, (nuint)i), s)) + z;
            r = Vector256.ConditionalSelect(Vector256.Equals(r, r), r, z);   // NaN → zero point
            var v = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(r, lo), hi));
            var bytes = Vector256.Narrow(Vector256.Narrow(v, v), default(Vector256<short>));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref pq, i), bytes.AsInt64().ToScalar());
        }
        return i;
    }
}
