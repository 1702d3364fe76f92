// Codes of one quantization (s, z) re-expressed in another (s', z') — a QuantizeLinear of a DequantizeLinear, as where the
// branches of a Concat (QLinearConcat) or a pooled value meet a layer that reads them at its own scale. A uint8 code has 256
// values, so the map is a table made once from the scalar specification:
//   table[q] = clamp(Quantize(Dequantize(q, s, z), s', z'), lo, hi)   (QuantizeLinear.cs's float32 formulas),
// where [lo, hi] is the clamp a Relu or constant Clip between the two becomes (quantization is monotone). Looking a byte up
// in 256 entries: AVX-512 VBMI's two-source byte permutes cover 128 entries each (the low seven bits of the code pick the
// byte, the high bit the half); without VBMI, one byte at a time.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>A 256-entry map of uint8 codes from one (scale, zero point) to another.</summary>
internal static class CodeTable
{
    /// <summary>The table of the requantization (s, z) → (s', z') clamped to [lo, hi]; null when it maps every code to itself.</summary>
    public static byte[]? Requantization(float scale, byte zeroPoint, float toScale, byte toZeroPoint, byte lo = 0, byte hi = byte.MaxValue)
    {
        var table = new byte[256];
        bool identity = true;
        for (int q = 0; q < 256; q++)
        {
            int code = QuantizeLinear.Quantize(QuantizeLinear.Dequantize(q, scale, zeroPoint), toScale, toZeroPoint, 0, 255);
            table[q] = (byte)Math.Clamp(code, lo, hi);
            identity &= table[q] == q;
        }
        return identity ? null : table;
    }

    /// <summary>y[i] = table[x[i]] (a copy when <paramref name="table"/> is null), on the active kernel path.</summary>
    public static void Map(byte[]? table, ReadOnlySpan<byte> x, Span<byte> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"x holds {x.Length} codes, y {y.Length}", nameof(y));
        if (table is null) { x.CopyTo(y); return; }
        if (table.Length != 256) throw new ArgumentException($"a code table has 256 entries, not {table.Length}", nameof(table));
        int i = Cpu.Active == KernelPath.Avx512 && Avx512Vbmi.IsSupported ? MapVbmi(table, x, y) : 0;
        for (; i < x.Length; i++) y[i] = table[x[i]];
    }

    // Returns how many codes it mapped (a multiple of 64); the scalar loop maps the rest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MapVbmi(byte[] table, ReadOnlySpan<byte> x, Span<byte> y)
    {
        ref byte t = ref MemoryMarshal.GetArrayDataReference(table);
        var t0 = Vector512.LoadUnsafe(ref t);
        var t1 = Vector512.LoadUnsafe(ref t, 64);
        var t2 = Vector512.LoadUnsafe(ref t, 128);
        var t3 = Vector512.LoadUnsafe(ref t, 192);
        var half = Vector512.Create((byte)0x80);
        ref byte px = ref MemoryMarshal.GetReference(x);
        ref byte py = ref MemoryMarshal.GetReference(y);
        int i = 0;
        for (; i <= x.Length - 64; i += 64)
        {
            var codes = Vector512.LoadUnsafe(ref px, (nuint)i);
            var low = Avx512Vbmi.PermuteVar64x8x2(t0, codes, t1);
            var high = Avx512Vbmi.PermuteVar64x8x2(t2, codes, t3);
            Vector512.ConditionalSelect(Vector512.Equals(codes & half, half), high, low).StoreUnsafe(ref py, (nuint)i);
        }
        return i;
    }
}
