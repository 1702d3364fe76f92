// Requantization of a channels-last tile (rows of pixels × up to 64 channels of int32, lanes = channels) to uint8: the
// integer steps of Requantize.RowCore (gemmlowp's MultiplyByQuantizedMultiplier, Requantize.cs) with every per-channel
// constant prepared once per layer call — the left shift, the right-shift mask and rounding threshold — and loaded once
// per 16 channels for all the tile's rows, where RowCore derives them per value. Two steps of RowCore drop out: the
// saturating left shift when no channel of the block shifts left (a multiplier below 1, the usual case), and the
// int.MinValue² saturation, which needs a multiplier of int.MinValue (QuantizeMultiplier's are positive; a layer with
// one runs RowCore). A last block narrower than 16 channels runs the same vector steps on constants padded to 16 and
// stores only its channels (it called RowCore per pixel row: MobileNetV2's 144 → 24 layer took 0.47 ms instead of 0.07).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>Per-channel requantization of int32 tiles with constants prepared once per call.</summary>
internal unsafe struct ChannelRequantizer
{
    private readonly int* _multiplier, _shift, _left, _right;
    private readonly bool _anyLeft, _general;
    private readonly int _zeroPoint, _qmin, _qmax;

    /// <summary>
    /// Constants for <paramref name="channels"/> channels (rounded up to 16 in <paramref name="scratch"/>, which must hold
    /// 3 × that many ints).
    /// </summary>
    public ChannelRequantizer(int* multiplier, int* shift, int channels, int zeroPoint, int qmin, int qmax, int* scratch)
    {
        _shift = shift;
        (_zeroPoint, _qmin, _qmax) = (zeroPoint, qmin, qmax);
        int padded = (channels + 15) / 16 * 16;
        // The multipliers padded with 1s, so that a last block narrower than 16 channels runs the vector steps too. Locals,
        // not fields, in the loop: the struct's fields went through memory on every channel (960 channels took 10 µs).
        int* left = scratch, right = scratch + padded, padMultiplier = scratch + 2 * padded;
        bool anyLeft = false, general = false;
        for (int o = 0; o < padded; o++)
        {
            int m = o < channels ? multiplier[o] : 1, s = o < channels ? shift[o] : 0;
            padMultiplier[o] = m;
            left[o] = Math.Max(s, 0);
            right[o] = Math.Max(-s, 0);
            anyLeft |= s > 0;
            general |= m == int.MinValue;
        }
        _left = left;
        _right = right;
        _multiplier = padMultiplier;
        (_anyLeft, _general) = (anyLeft, general);
    }

    /// <summary>
    /// Channels [co, co + width) of <paramref name="rows"/> tile rows (<paramref name="ldt"/> ints apart) to y (rows
    /// <paramref name="ldy"/> bytes apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void Run(int* tile, int ldt, int rows, int co, int width, byte* y, long ldy)
    {
        int full = _general ? 0 : (width + 15) / 16 * 16;
        var (low, high, zp) = (Vector512.Create(_qmin - _zeroPoint), Vector512.Create(_qmax - _zeroPoint), Vector512.Create(_zeroPoint));
        var nudge = Vector512.Create(1L << 30);
        for (int j = 0; j < full; j += 16)
        {
            var multiplier = Vector512.Load(_multiplier + co + j);
            var oddMultiplier = Vector512.ShiftRightLogical(multiplier.AsInt64(), 32).AsInt32();
            var right = Vector512.Load(_right + co + j).AsUInt32();
            var left = Vector512.Load(_left + co + j).AsUInt32();
            var mask = Avx512F.ShiftLeftLogicalVariable(Vector512<int>.One, right) - Vector512<int>.One;
            var half = Vector512.ShiftRightArithmetic(mask, 1);
            bool shiftLeft = _anyLeft;
            for (int i = 0; i < rows; i++)
            {
                var x = Vector512.Load(tile + i * ldt + j);
                if (shiftLeft)
                {
                    var shifted = Avx512F.ShiftLeftLogicalVariable(x, left);
                    var saturated = Vector512.Create(int.MaxValue) ^ Vector512.ShiftRightArithmetic(x, 31);
                    x = Vector512.ConditionalSelect(Vector512.Equals(Avx512F.ShiftRightArithmeticVariable(shifted, left), x), shifted, saturated);
                }
                var even = Vector512.ShiftRightLogical(Avx512F.Multiply(x, multiplier) + nudge, 31);
                var odd = Vector512.ShiftLeft(Avx512F.Multiply(Vector512.ShiftRightLogical(x.AsInt64(), 32).AsInt32(), oddMultiplier) + nudge, 1);
                var h = Vector512.ConditionalSelect(Vector512.Create(0xFFFF_FFFFL), even, odd).AsInt32();
                // RoundingDivideByPOT without mask registers: the threshold is half + 1 for negative h (its sign bit), and
                // remainder > threshold exactly when threshold − remainder (both in [0, 2^31)) is negative.
                var threshold = half + Vector512.ShiftRightLogical(h, 31);
                var r = Avx512F.ShiftRightArithmeticVariable(h, right) + Vector512.ShiftRightLogical(threshold - (h & mask), 31);
                var bytes = Avx512F.ConvertToVector128Byte(Vector512.Max(Vector512.Min(r, high), low) + zp);
                if (j + 16 <= width) bytes.Store(y + i * ldy + j);
                else StorePart(bytes, width - j, y + i * ldy + j);
            }
        }
        if (full < width)
            for (int i = 0; i < rows; i++)
                Requantize.RowCore(KernelPath.Avx512, tile + i * ldt + full, _multiplier + co + full, _shift + co + full, width - full,
                    _zeroPoint, _qmin, _qmax, y + i * ldy + full);
    }

    // The first `count` (< 16) bytes of `bytes` to y: eight at once, then four, then one by one.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePart(Vector128<byte> bytes, int count, byte* y)
    {
        int done = 0;
        if (count >= 8) { *(ulong*)y = bytes.AsUInt64().ToScalar(); done = 8; }
        if (count - done >= 4) { *(uint*)(y + done) = bytes.AsUInt32().GetElement(done / 4); done += 4; }
        for (; done < count; done++) y[done] = bytes.GetElement(done);
    }
}
