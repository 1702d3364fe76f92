// Requantize against exact arithmetic (BigInteger): the gemmlowp steps written as rational formulas —
// h = floor((x'·multiplier + 2^30) / 2^31) (round half up), r = h / 2^e rounded half away from zero —
// over random and edge accumulators (±2^31 bounds, 0, ±1, exact ties), multipliers below and above 1;
// plus |r − x·M| < 1 for the real multiplier M, and the vector rows equal to the scalar row on every path.
using System.Numerics;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class RequantizeTests
{
    private static readonly int[] EdgeAccumulators =
        [0, 1, -1, 2, -2, 3, -3, 127, -128, 1 << 15, -(1 << 15), int.MaxValue, int.MinValue, int.MaxValue - 1, int.MinValue + 1, 1 << 30, -(1 << 30)];

    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var path in Cpu.SupportedPaths) data.Add(path);
        return data;
    }

    [Theory]
    [InlineData(1.0, 1 << 30, 1)]
    [InlineData(0.5, 1 << 30, 0)]
    [InlineData(0.75, 3 << 29, 0)]
    [InlineData(0.25, 1 << 30, -1)]
    [InlineData(3.0, 3 << 29, 2)]
    [InlineData(0.0, 0, 0)]
    public void QuantizeMultiplierSplitsExactPowers(double real, int expectedMultiplier, int expectedShift)
    {
        Requantize.QuantizeMultiplier(real, out int multiplier, out int shift);
        Assert.Equal((expectedMultiplier, expectedShift), (multiplier, shift));
    }

    [Fact]
    public void QuantizeMultiplierIsWithinHalfAnUnitInTheLastPlace()
    {
        var rng = new Rng(11);
        for (int t = 0; t < 2000; t++)
        {
            double real = Math.Pow(2, -30 + 34 * rng.NextDouble()); // 2^-30 .. 2^4
            Requantize.QuantizeMultiplier(real, out int multiplier, out int shift);
            Assert.InRange(multiplier, 1 << 30, int.MaxValue);
            double represented = multiplier * Math.Pow(2, shift - 31);
            Assert.True(Math.Abs(represented - real) <= Math.Pow(2, shift - 32) * 1.000001, $"{real}: {multiplier}·2^({shift}−31)");
        }
        // Values near 1 - 2^-33 round up to 2^31 and renormalise.
        Requantize.QuantizeMultiplier(1 - Math.Pow(2, -40), out int m1, out int s1);
        Assert.Equal((1 << 30, 1), (m1, s1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Requantize.QuantizeMultiplier(-1, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => Requantize.QuantizeMultiplier(double.NaN, out _, out _));
    }

    [Theory]
    [InlineData(1, 1 << 30, 0, 1)]     // 0.5 rounds up
    [InlineData(-1, 1 << 30, 0, 0)]    // −0.5 rounds up too (SRDHM rounds half towards +∞)
    [InlineData(3, 1 << 30, 0, 2)]     // 1.5
    [InlineData(-3, 1 << 30, 0, -1)]   // −1.5
    [InlineData(2, 1 << 30, -1, 1)]    // h = 1, then 1/2 rounds away from zero
    [InlineData(-2, 1 << 30, -1, -1)]  // h = −1, then −1/2 rounds away from zero
    [InlineData(-5, 1 << 30, -1, -1)]  // h = −2 (−2.5 up), −2/2 = −1: double rounding, round(−1.25) = −1
    [InlineData(int.MaxValue, int.MaxValue, 0, int.MaxValue - 1)]
    [InlineData(int.MinValue, 1 << 30, 0, -(1 << 30))]
    [InlineData(1 << 20, 1 << 30, 30, 1 << 30)]   // the left shift saturates to 2^31 − 1, then times 0.5
    [InlineData(-(1 << 20), 1 << 30, 30, int.MinValue / 2)] // saturated to −2^31, then times 0.5
    public void HandPickedTiesAndBounds(int acc, int multiplier, int shift, int expected) =>
        Assert.Equal(expected, Requantize.MultiplyByQuantizedMultiplier(acc, multiplier, shift));

    [Fact]
    public void SaturatingRoundingDoublingHighMulSaturatesOnlyMinTimesMin()
    {
        Assert.Equal(int.MaxValue, Requantize.SaturatingRoundingDoublingHighMul(int.MinValue, int.MinValue));
        Assert.Equal(int.MinValue + 1, Requantize.SaturatingRoundingDoublingHighMul(int.MinValue, int.MaxValue));
        Assert.Equal(-3, Requantize.RoundingDivideByPOT(-5, 1));
        Assert.Equal(3, Requantize.RoundingDivideByPOT(5, 1));
        Assert.Equal(-1, Requantize.RoundingDivideByPOT(int.MinValue, 31));
    }

    [Fact]
    public void MatchesExactArithmeticOnRandomAndEdgeValues()
    {
        var rng = new Rng(3);
        var shifts = Enumerable.Range(-31, 62).ToArray(); // −31 .. 30
        for (int t = 0; t < 20_000; t++)
        {
            int acc = t < EdgeAccumulators.Length * 8 ? EdgeAccumulators[t % EdgeAccumulators.Length] : RandomAccumulator(rng);
            int shift = t % 5 == 0 ? shifts[rng.NextInt(shifts.Length)] : -rng.NextInt(12) + (t % 7 == 0 ? 3 : 0);
            int multiplier = t % 11 == 0 ? 1 << 30 : (1 << 30) + rng.NextInt(1 << 30);
            int got = Requantize.MultiplyByQuantizedMultiplier(acc, multiplier, shift);
            Assert.Equal(Exact(acc, multiplier, shift), got);

            // Within one of the single-rounded exact product x·M, M = multiplier·2^(shift−31), unless saturated.
            int left = Math.Max(shift, 0);
            if ((long)acc << left == (int)((long)acc << left))
            {
                var d = BigInteger.Pow(2, 31 - shift); // 31 − shift ≥ 1
                Assert.True(BigInteger.Abs(got * d - (BigInteger)acc * multiplier) < d, $"acc {acc}, M {multiplier}·2^{shift}");
                if (shift >= 0) // a single rounding: exactly floor(x·M + 1/2)
                    Assert.Equal(FloorDiv(2 * (BigInteger)acc * multiplier + d, 2 * d), (BigInteger)got);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void VectorRowsMatchTheScalarSpecification(KernelPath path)
    {
        var rng = new Rng(19);
        foreach (int count in new[] { 1, 7, 8, 15, 16, 17, 33, 64, 100 })
            foreach (var (zp, qmin, qmax) in new[] { (0, 0, 255), (128, 128, 255), (37, 5, 250), (255, 0, 255) })
            {
                var acc = new int[count]; var multiplier = new int[count]; var shift = new int[count];
                for (int j = 0; j < count; j++)
                {
                    acc[j] = j < EdgeAccumulators.Length && count > 30 ? EdgeAccumulators[j] : RandomAccumulator(rng);
                    multiplier[j] = j % 9 == 4 ? 1 << 30 : (1 << 30) + rng.NextInt(1 << 30);
                    shift[j] = j % 5 == 2 ? rng.NextInt(31) : -rng.NextInt(32);
                }
                var y = new byte[count]; var expected = new byte[count];
                for (int j = 0; j < count; j++)
                    expected[j] = (byte)Math.Clamp(zp + (long)Requantize.MultiplyByQuantizedMultiplier(acc[j], multiplier[j], shift[j]), qmin, qmax);
                using (Cpu.Force(path)) Requantize.Row(acc, multiplier, shift, zp, qmin, qmax, y);
                Assert.Equal(expected, y);

                // The int8 form: the same values shifted by −128.
                var ys = new sbyte[count];
                using (Cpu.Force(path)) Requantize.Row(acc, multiplier, shift, zp - 128, qmin - 128, qmax - 128, ys);
                Assert.Equal(expected.Select(v => (sbyte)(v - 128)), ys);
            }
    }

    [Fact]
    public void RowRejectsBadRanges()
    {
        int[] one = [1];
        Assert.Throws<ArgumentOutOfRangeException>(() => Requantize.Row(one, one, [0], 0, 10, 5, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Requantize.Row(one, one, [0], 0, -1, 5, new byte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Requantize.Row(one, one, [0], 0, 0, 200, new sbyte[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Requantize.Row(one, one, [-32], 0, 0, 255, new byte[1]));
        Assert.Throws<ArgumentException>(() => Requantize.Row(one, one, [0, 0], 0, 0, 255, new byte[1]));
    }

    /// <summary>Magnitudes spread over all scales, so small and huge accumulators both appear.</summary>
    private static int RandomAccumulator(Rng rng) =>
        (int)((long)rng.NextUInt64() >> (32 + rng.NextInt(32)));

    /// <summary>gemmlowp's result as exact rational steps (see Requantize.cs).</summary>
    private static int Exact(int acc, int multiplier, int shift)
    {
        int left = Math.Max(shift, 0), right = Math.Max(-shift, 0);
        var x = BigInteger.Min(BigInteger.Max((BigInteger)acc << left, int.MinValue), int.MaxValue);
        if (x == int.MinValue && multiplier == int.MinValue) return int.MaxValue;
        var h = FloorDiv(x * multiplier + (BigInteger.One << 30), BigInteger.One << 31);
        var d = BigInteger.One << right;
        // h / d to nearest, ties away from zero: sign(h)·floor((2|h| + d) / 2d).
        var r = h.Sign * FloorDiv(2 * BigInteger.Abs(h) + d, 2 * d);
        return (int)r;
    }

    private static BigInteger FloorDiv(BigInteger a, BigInteger b)
    {
        var q = BigInteger.DivRem(a, b, out var rem);
        return rem.Sign != 0 && (rem.Sign < 0) != (b.Sign < 0) ? q - 1 : q;
    }
}
