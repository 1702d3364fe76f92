// The residual Add of quantized inference on uint8 codes (as TFLite's and QNNPACK's quantized add): two tensors of their
// own (s_a, z_a) and (s_b, z_b) summed and requantized to the output's (s_y, z_y) with float-free fixed-point multipliers
// sharing one shift k:
//   y = clamp(z_y + round_half_even((M_a·(a − z_a) + M_b·(b − z_b)) / 2^k), qmin, 255),   M = round(s/s_y · 2^k),
// the exact QDQ value being z_y + round_half_even(((a − z_a)·s_a + (b − z_b)·s_b) / s_y). The largest multiplier is
// kept at most 2^21, so |M_a·(a − z_a) + M_b·(b − z_b)| < 2·255·2^21 < 2^30 and the sums are exact int32; each multiplier
// is within 1/2 of its real value · 2^k, so the sum before rounding is off by less than 255·2^−k ≤ 255·2^−21·max(s)/s_y
// steps: the result differs from the exact one only when that value lies that close to a rounding boundary (and the float
// simulation's own float32 arithmetic is as far from exact). A ReLU after the Add is qmin = z_y (the quantized ReLU).
// Elements are independent: the AVX-512 and AVX2 paths (16 or 8 lanes of int32) give the bits of the scalar loop, and
// large adds split into runs over Cpu.Threads.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>uint8 residual addition with fixed-point requantization.</summary>
public static unsafe class QAdd
{
    /// <summary>The largest multiplier <see cref="Multipliers"/> returns.</summary>
    public const int MaxMultiplier = 1 << 21;

    /// <summary>
    /// (M_a, M_b, k) for real multipliers <paramref name="ratioA"/> = s_a/s_y and <paramref name="ratioB"/> = s_b/s_y: the largest
    /// k ≤ 30 with round(max ratio · 2^k) ≤ <see cref="MaxMultiplier"/>; ratios of 2^13 or more are refused.
    /// </summary>
    public static (int MultiplierA, int MultiplierB, int Shift) Multipliers(double ratioA, double ratioB)
    {
        if (!(ratioA > 0) || !(ratioB > 0) || !double.IsFinite(ratioA) || !double.IsFinite(ratioB))
            throw new ArgumentException($"the scale ratios must be positive and finite, got {ratioA} and {ratioB}");
        double largest = Math.Max(ratioA, ratioB);
        int shift = 30;
        while (shift > 8 && Math.Round(largest * (1L << shift)) > MaxMultiplier) shift--;
        if (Math.Round(largest * (1L << shift)) > MaxMultiplier)
            throw new ArgumentException($"a scale ratio of {largest:G3} is too large for the fixed-point add");
        return ((int)Math.Round(ratioA * (1L << shift)), (int)Math.Round(ratioB * (1L << shift)), shift);
    }

    /// <summary>y = clamp(z_y + round_half_even((M_a·(a − z_a) + M_b·(b − z_b)) / 2^shift), qmin, 255) elementwise.</summary>
    public static void Forward(ReadOnlySpan<byte> a, byte zeroPointA, int multiplierA, ReadOnlySpan<byte> b, byte zeroPointB, int multiplierB,
        int shift, byte yZeroPoint, byte qmin, Span<byte> y)
    {
        if (a.Length != b.Length || y.Length != a.Length)
            throw new ArgumentException($"the add buffers hold {a.Length}, {b.Length} and {y.Length} values; they must be equal");
        if (shift is < 1 or > 30 || (uint)multiplierA > MaxMultiplier || (uint)multiplierB > MaxMultiplier)
            throw new ArgumentException($"multipliers {multiplierA}, {multiplierB} must lie in [0, {MaxMultiplier}] and shift {shift} in [1, 30]");
        var path = Cpu.Active;
        int parts = a.Length >= ParallelElements ? Cpu.Threads : 1;
        fixed (byte* pa = a, pb = b, py = y)
        {
            var job = new Job(path, pa, zeroPointA, multiplierA, pb, zeroPointB, multiplierB, shift, yZeroPoint, qmin, py, a.Length, parts);
            if (parts == 1) job.Execute(0);
            else WorkerPool.Run(job, parts);
        }
    }

    // Below this many elements the add runs on the calling thread.
    private const int ParallelElements = 1 << 16;

    // Part p adds a contiguous run of whole 64-element chunks (the last part takes the tail).
    private sealed class Job(KernelPath path, byte* a, byte zeroPointA, int multiplierA, byte* b, byte zeroPointB, int multiplierB, int shift,
        byte yZeroPoint, byte qmin, byte* y, int count, int parts) : IParallelJob
    {
        private readonly byte* _a = a, _b = b, _y = y;

        public void Execute(int part)
        {
            int chunks = count / 64, start = (int)((long)chunks * part / parts) * 64;
            int end = part == parts - 1 ? count : (int)((long)chunks * (part + 1) / parts) * 64;
            Run(path, _a + start, zeroPointA, multiplierA, _b + start, zeroPointB, multiplierB, shift, yZeroPoint, qmin, _y + start, end - start);
        }
    }

    /// <summary>The elementwise add of <see cref="Forward"/> on <paramref name="count"/> elements on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run(KernelPath path, byte* a, byte zeroPointA, int multiplierA, byte* b, byte zeroPointB, int multiplierB, int shift,
        byte yZeroPoint, byte qmin, byte* y, int count)
    {
        int i = 0;
        if (path == KernelPath.Avx512) i = Vector512Lanes(a, zeroPointA, multiplierA, b, zeroPointB, multiplierB, shift, yZeroPoint, qmin, y, count);
        if (path != KernelPath.Scalar && Avx2.IsSupported)
            i += Vector(a + i, zeroPointA, multiplierA, b + i, zeroPointB, multiplierB, shift, yZeroPoint, qmin, y + i, count - i);
        for (; i < count; i++) y[i] = One(a[i], zeroPointA, multiplierA, b[i], zeroPointB, multiplierB, shift, yZeroPoint, qmin);
    }

    /// <summary>
    /// <see cref="Run"/> on <paramref name="rows"/> rows of <paramref name="count"/> elements: a rows <paramref name="lda"/> bytes
    /// apart, b and y rows <paramref name="ldb"/> apart (the residual Add QConv2dNhwc runs on its tiles), the constants set once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Rows(KernelPath path, byte* a, int lda, byte zeroPointA, int multiplierA, byte* b, long ldb, byte zeroPointB, int multiplierB,
        int shift, byte yZeroPoint, byte qmin, byte* y, int rows, int count)
    {
        if (path != KernelPath.Avx512 || (count % 16 != 0 && lda < (count + 15) / 16 * 16))
        {
            for (int r = 0; r < rows; r++)
                Run(path, a + r * lda, zeroPointA, multiplierA, b + r * ldb, zeroPointB, multiplierB, shift, yZeroPoint, qmin, y + r * ldb, count);
            return;
        }
        // (a − z_a)·M_a + (b − z_b)·M_b = a·M_a + b·M_b − (z_a·M_a + z_b·M_b): every term and partial sum is below 2^31 in size.
        var (ma, mb) = (Vector512.Create(multiplierA), Vector512.Create(multiplierB));
        var offset = Vector512.Create(-(zeroPointA * multiplierA + zeroPointB * multiplierB));
        var (half, one, zy) = (Vector512.Create((1 << (shift - 1)) - 1), Vector512.Create(1), Vector512.Create((int)yZeroPoint));
        var (low, high) = (Vector512.Create((int)qmin), Vector512.Create(255));
        // A last part of fewer than 16 channels (a row of a, lda ≥ the count rounded up to 16, is read whole): b's bytes are
        // copied into a vector and only that many bytes are stored.
        int tail = count % 16, full = count - tail;
        for (int r = 0; r < rows; r++, a += lda, b += ldb, y += ldb)
        {
            for (int i = 0; i < full; i += 16) Sixteen(a + i, Vector128.Load(b + i)).Store(y + i);
            if (tail == 0) continue;
            var part = Vector128<byte>.Zero;
            Buffer.MemoryCopy(b + full, &part, 16, tail);
            var codes = Sixteen(a + full, part);
            Buffer.MemoryCopy(&codes, y + full, tail, tail);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        Vector128<byte> Sixteen(byte* av, Vector128<byte> bv)
        {
            var t = Avx512F.ConvertToVector512Int32(Vector128.Load(av)) * ma + Avx512F.ConvertToVector512Int32(bv) * mb + offset;
            var q = Vector512.ShiftRightArithmetic(t + half + (Vector512.ShiftRightArithmetic(t, shift) & one), shift) + zy;
            return Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(q, low), high));
        }
    }

    /// <summary>One element: the specification of <see cref="Forward"/>.</summary>
    public static byte One(byte a, byte zeroPointA, int multiplierA, byte b, byte zeroPointB, int multiplierB, int shift, byte yZeroPoint, byte qmin)
    {
        int t = multiplierA * (a - zeroPointA) + multiplierB * (b - zeroPointB);
        // round_half_even(t / 2^k) = (t + 2^(k−1) − 1 + ((t >> k) & 1)) >> k: a remainder of exactly half rounds up only from odd.
        int q = (t + (1 << (shift - 1)) - 1 + ((t >> shift) & 1)) >> shift;
        return (byte)Math.Clamp(yZeroPoint + q, qmin, 255);
    }

    // Sixteen elements per step (the steps of Vector on zmm); returns how many it did.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Vector512Lanes(byte* a, byte zeroPointA, int multiplierA, byte* b, byte zeroPointB, int multiplierB, int shift,
        byte yZeroPoint, byte qmin, byte* y, int count)
    {
        var (za, zb) = (Vector512.Create((int)zeroPointA), Vector512.Create((int)zeroPointB));
        var (ma, mb) = (Vector512.Create(multiplierA), Vector512.Create(multiplierB));
        var (half, one, zy) = (Vector512.Create((1 << (shift - 1)) - 1), Vector512.Create(1), Vector512.Create((int)yZeroPoint));
        var (low, high) = (Vector512.Create((int)qmin), Vector512.Create(255));
        int i = 0;
        for (; i <= count - 16; i += 16)
        {
            var t = (Avx512F.ConvertToVector512Int32(Vector128.Load(a + i)) - za) * ma + (Avx512F.ConvertToVector512Int32(Vector128.Load(b + i)) - zb) * mb;
            var q = Vector512.ShiftRightArithmetic(t + half + (Vector512.ShiftRightArithmetic(t, shift) & one), shift) + zy;
            Avx512F.ConvertToVector128Byte(Vector512.Min(Vector512.Max(q, low), high)).Store(y + i);
        }
        return i;
    }

    // Eight elements per step; returns how many it did.
    private static int Vector(byte* a, byte zeroPointA, int multiplierA, byte* b, byte zeroPointB, int multiplierB, int shift,
        byte yZeroPoint, byte qmin, byte* y, int count)
    {
        var (za, zb) = (Vector256.Create((int)zeroPointA), Vector256.Create((int)zeroPointB));
        var (ma, mb) = (Vector256.Create(multiplierA), Vector256.Create(multiplierB));
        var (half, one, zy) = (Vector256.Create((1 << (shift - 1)) - 1), Vector256.Create(1), Vector256.Create((int)yZeroPoint));
        var (low, high) = (Vector256.Create((int)qmin), Vector256.Create(255));
        int i = 0;
        for (; i <= count - 8; i += 8)
        {
            var t = (Avx2.ConvertToVector256Int32(a + i) - za) * ma + (Avx2.ConvertToVector256Int32(b + i) - zb) * mb;
            var q = Vector256.ShiftRightArithmetic(t + half + (Vector256.ShiftRightArithmetic(t, shift) & one), shift) + zy;
            q = Vector256.Min(Vector256.Max(q, low), high);
            var words = Vector256.Narrow(q, q).AsUInt16();
            *(ulong*)(y + i) = Vector256.Narrow(words, words).AsUInt64().ToScalar();
        }
        return i;
    }
}
