// The output side of the channels-in-lanes int8 depthwise convolution (QDepthwiseConv2d.Lanes.cs): int32 sums, one vector of
// eight channels per output pixel, are requantized with the eight channels' multipliers and shifts in the lanes — the
// integer steps of Requantize.RowCore with the per-channel constants prepared once per row, as ChannelRequantizer does for
// 16 lanes — packed to bytes, and the pixel-major codes of a block transposed back into its eight NCHW planes (or, on
// channels-last codes, stored as each pixel's eight bytes). The accumulator form transposes the int32 sums instead.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Int8Gemm;

namespace Condense.Kernels.Int8Conv;

public static unsafe partial class QDepthwiseConv2d
{
    /// <summary>Takes a row's int32 sums, one vector of eight channels per output pixel ox, four or one at a time.</summary>
    private interface ILaneSink
    {
        void Four(int ox, Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3);
        void One(int ox, Vector256<int> s);
    }

    /// <summary>sums[ox·8 + i] = s[i]: the accumulators, transposed out after the block.</summary>
    private readonly struct SumsSink(int* sums) : ILaneSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Four(int ox, Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3)
        {
            int* at = sums + ox * Lanes;
            s0.Store(at); s1.Store(at + Lanes); s2.Store(at + 2 * Lanes); s3.Store(at + 3 * Lanes);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void One(int ox, Vector256<int> s) => s.Store(sums + ox * Lanes);
    }

    /// <summary>
    /// codes[ox·8 + i] = clamp(z_y + MultiplyByQuantizedMultiplier(s[i], multiplier[c0 + i], shift[c0 + i]), qmin, qmax).
    /// </summary>
    private readonly struct CodesSink(LaneRequantizer lanes, Vector256<short> zero, Vector256<byte> low, Vector256<byte> high, byte* codes)
        : ILaneSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Four(int ox, Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3) =>
            Pack(lanes.Apply(s0), lanes.Apply(s1), lanes.Apply(s2), lanes.Apply(s3), zero, low, high).Store(codes + ox * Lanes);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void One(int ox, Vector256<int> s)
        {
            var r = lanes.Apply(s);
            *(long*)(codes + ox * Lanes) = Pack(r, r, r, r, zero, low, high).AsInt64().ToScalar();
        }

        // Four pixels' eight int32 results r to 32 pixel-major bytes clamp(z_y + r, qmin, qmax). The saturating packs and add
        // give the same bytes as clamping in int32: a result beyond int16 saturates to ±32767/32768, still beyond [0, 255].
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<byte> Pack(Vector256<int> r0, Vector256<int> r1, Vector256<int> r2, Vector256<int> r3,
            Vector256<short> zero, Vector256<byte> low, Vector256<byte> high)
        {
            var r01 = Avx2.AddSaturate(Avx2.PackSignedSaturate(r0, r1), zero);   // per 128-bit lane: r0 c0..3, r1 c0..3 | c4..7
            var r23 = Avx2.AddSaturate(Avx2.PackSignedSaturate(r2, r3), zero);
            var bytes = Vector256.Min(Vector256.Max(Avx2.PackUnsignedSaturate(r01, r23), low), high);
            // Dwords: r0 c0..3, r1 c0..3, r2 c0..3, r3 c0..3 | r0 c4..7, …; gather each pixel's two halves.
            return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsByte();
        }
    }

    /// <summary>
    /// Where a block's results go: requantized codes into y, or (y null) the int32 sums into acc; planes, or with
    /// <paramref name="channelsLast"/> each pixel's eight channels of a channels-last y (codes only).
    /// </summary>
    private readonly struct LaneOutput(int* multiplier, int* shift, byte zeroPoint, byte qmin, byte qmax, byte* y, int* acc, bool channelsLast)
    {
        /// <summary>The sink requantizing channels c0 .. c0 + 7 into the pixel-major <paramref name="codes"/>.</summary>
        public CodesSink Codes(int c0, byte* codes) => new(new LaneRequantizer(multiplier + c0, shift + c0), Vector256.Create((short)zeroPoint),
            Vector256.Create(qmin), Vector256.Create(qmax), codes);

        /// <summary>The block's pixel-major codes (or, for the accumulators, sums) into planes c0 .. c0 + 7 of image n.</summary>
        public void Write(Conv2dGeometry g, int n, int c0, byte* codes, int* sums)
        {
            int pixels = g.OutPixels;
            if (channelsLast)
            {
                byte* to = y + (long)n * pixels * g.OutChannels + c0;
                for (int p = 0; p < pixels; p++) *(ulong*)(to + (long)p * g.OutChannels) = ((ulong*)codes)[p];
                return;
            }
            long first = ((long)n * g.OutChannels + c0) * pixels;
            if (y is null) TransposeOut(sums, pixels, acc + first);
            else TransposeOut(codes, pixels, y + first);
        }
    }

    // to[i·pixels + p] = from[p·8 + i]; the last < 8 pixels again as the last eight (the same values written twice).
    private static void TransposeOut(byte* from, int pixels, byte* to)
    {
        int p = 0;
        for (; p + Lanes <= pixels; p += Lanes) Transpose8x8(from + p * Lanes, Lanes, to + p, pixels);
        if (p == pixels) return;
        if (pixels >= Lanes) { Transpose8x8(from + (pixels - Lanes) * Lanes, Lanes, to + pixels - Lanes, pixels); return; }
        for (; p < pixels; p++)
            for (int i = 0; i < Lanes; i++) to[(long)i * pixels + p] = from[p * Lanes + i];
    }

    private static void TransposeOut(int* from, int pixels, int* to)
    {
        int p = 0;
        for (; p + Lanes <= pixels; p += Lanes) GemmPack.Transpose8x8((float*)(from + p * Lanes), Lanes, (float*)(to + p), pixels);
        if (p == pixels) return;
        if (pixels >= Lanes)
        {
            GemmPack.Transpose8x8((float*)(from + (pixels - Lanes) * Lanes), Lanes, (float*)(to + pixels - Lanes), pixels);
            return;
        }
        for (; p < pixels; p++)
            for (int i = 0; i < Lanes; i++) to[(long)i * pixels + p] = from[p * Lanes + i];
    }

    /// <summary>
    /// MultiplyByQuantizedMultiplier (Requantize.cs) on eight lanes with a multiplier and shift per lane, the constants
    /// derived once. As ChannelRequantizer, the saturating left shift runs only when some lane shifts left, and lanes with a
    /// multiplier of int.MinValue (whose square saturates) take Requantize's full vector steps instead.
    /// </summary>
    private readonly struct LaneRequantizer
    {
        private readonly Vector256<int> _multiplier, _oddMultiplier, _shift, _mask, _half;
        private readonly Vector256<uint> _left, _right;
        private readonly bool _anyLeft, _general;

        public LaneRequantizer(int* multiplier, int* shift)
        {
            _multiplier = Vector256.Load(multiplier);
            _shift = Vector256.Load(shift);
            _oddMultiplier = Avx2.Shuffle(_multiplier, 0b11_11_01_01);
            _left = Vector256.Max(_shift, Vector256<int>.Zero).AsUInt32();
            _right = Vector256.Max(-_shift, Vector256<int>.Zero).AsUInt32();
            _mask = Avx2.ShiftLeftLogicalVariable(Vector256<int>.One, _right) - Vector256<int>.One;
            _half = Vector256.ShiftRightArithmetic(_mask, 1);
            _anyLeft = Vector256.GreaterThanAny(_shift, Vector256<int>.Zero);
            _general = Vector256.EqualsAny(_multiplier, Vector256.Create(int.MinValue));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Apply(Vector256<int> x)
        {
            if (_general) return Requantize.Lanes256(x, _multiplier, _shift);
            if (_anyLeft)
            {
                var shifted = Avx2.ShiftLeftLogicalVariable(x, _left);
                var saturated = Vector256.Create(int.MaxValue) ^ Vector256.ShiftRightArithmetic(x, 31);
                x = Vector256.ConditionalSelect(Vector256.Equals(Avx2.ShiftRightArithmeticVariable(shifted, _left), x), shifted, saturated);
            }
            return RowRequantizer.HighMulDivide(x, _multiplier, _oddMultiplier, _mask, _half, _right);
        }
    }
}
