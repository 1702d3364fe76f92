// Codes through a per-channel affine map into the codes of another quantization, the float simulation's arithmetic
// exactly: x = (q − z)·s (DequantizeLinear), y = x·a[c] + b[c] (an inference batch norm, Tensor.BatchNorm's a and b),
// then QuantizeLinear at (s', z') clamped to [lo, hi] (a ReLU or Clip after the norm). The scalar loop calls
// QuantizeLinear's own functions and is the reference; the AVX-512 loop runs the same float operations on 16 channels of a
// pixel at a time (product then sum, no fused multiply-add; a division, rounded half to even), so its codes are the
// same. Channels-last codes: a pixel's `channels` codes are contiguous and channel c's a, b apply at offset c.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>The parameters of one input: its codes' (s, z) and the affine map of each of its channels.</summary>
internal sealed record ChannelAffine(float Scale, byte ZeroPoint, float[] A, float[] B);

/// <summary>Per-channel affine maps of codes to codes (an inference batch norm between two quantizations).</summary>
internal static unsafe class ChannelAffineCodes
{
    /// <summary>
    /// For each of <paramref name="pixels"/> rows: y[p·stride + c] = Q(dq(x[p·channels + c])·a[c] + b[c]) for the channels of
    /// <paramref name="map"/>, on the active kernel path.
    /// </summary>
    public static void Map(ReadOnlySpan<byte> x, Span<byte> y, int pixels, int stride, ChannelAffine map, float toScale, byte toZeroPoint,
        byte lo, byte hi)
    {
        int channels = map.A.Length;
        if (x.Length < pixels * channels || y.Length < (pixels - 1) * stride + channels)
            throw new ArgumentException($"{pixels} pixels of {channels} channels do not fit the spans");
        bool vector = Cpu.Active == KernelPath.Avx512;
        for (int p = 0; p < pixels; p++)
        {
            var from = x.Slice(p * channels, channels);
            var to = y.Slice(p * stride, channels);
            int c = vector ? MapAvx512(from, to, map, toScale, toZeroPoint, lo, hi) : 0;
            for (; c < channels; c++)
            {
                float v = QuantizeLinear.Dequantize(from[c], map.Scale, map.ZeroPoint) * map.A[c] + map.B[c];
                to[c] = (byte)Math.Clamp(QuantizeLinear.Quantize(v, toScale, toZeroPoint, 0, 255), lo, hi);
            }
        }
    }

    // Returns how many channels it mapped (a multiple of 16); the scalar loop maps the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MapAvx512(ReadOnlySpan<byte> x, Span<byte> y, ChannelAffine map, float toScale, byte toZeroPoint, byte lo, byte hi)
    {
        ref byte px = ref MemoryMarshal.GetReference(x);
        ref byte py = ref MemoryMarshal.GetReference(y);
        ref float pa = ref MemoryMarshal.GetArrayDataReference(map.A);
        ref float pb = ref MemoryMarshal.GetArrayDataReference(map.B);
        var zero = Vector512.Create((int)map.ZeroPoint);
        var s = Vector512.Create(map.Scale);
        var toS = Vector512.Create(toScale);
        var toZ = Vector512.Create((float)toZeroPoint);
        var low = Vector512.Create((float)lo);
        var high = Vector512.Create((float)hi);
        int c = 0;
        for (; c <= x.Length - 16; c += 16)
        {
            var codes = Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref px, (nuint)c));
            var v = Avx512F.ConvertToVector512Single(codes - zero) * s;
            v = v * Vector512.LoadUnsafe(ref pa, (nuint)c) + Vector512.LoadUnsafe(ref pb, (nuint)c);
            QuantizeLinear.ToCodes(v, toS, toZ, low, high).StoreUnsafe(ref py, (nuint)c);
        }
        return c;
    }
}
