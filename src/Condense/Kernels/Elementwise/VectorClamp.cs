// The clamp of a fused Relu or Clip against bounds only known at run time, with the bits of Vector256.Max/Min (and of
// TensorPrimitives.Max/Min and MathF.Max/Min, which the separate ops use): IEEE 754-2019 maximum and minimum, so a NaN
// propagates and −0 counts as below +0. The JIT expands Vector256.Max(v, bound) of a bound it cannot see into about ten
// compares, ands and ors plus spills — as much work as the multiply-adds of a 1×1 convolution over 16 input channels
// (MobileNetV2's 16 → 96 expansion at 112×112: measured). The processor's vmaxps/vminps are one instruction each but pick
// their second operand on a NaN or a tie of zeros, so the operands go in the order that returns v on a NaN, and one
// addition (or) repairs the one tie they get wrong for the given bound.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Condense.Kernels.Elementwise;

/// <summary>A lower bound, an upper bound or both, as vectors ready for <see cref="Apply(Vector256{float})"/>.</summary>
internal readonly struct VectorClamp
{
    private readonly Vector256<float> _low, _high, _lowRepair, _highRepair;

    /// <summary>max(·, <paramref name="low"/>) when <paramref name="low"/> is above −∞, then min(·, <paramref name="high"/>)
    /// when <paramref name="high"/> is below +∞; neither may be NaN.</summary>
    public VectorClamp(float low, float high)
    {
        HasLow = low > float.NegativeInfinity;
        HasHigh = high < float.PositiveInfinity;
        (Low, High) = (low, high);
        _low = Vector256.Create(low);
        _high = Vector256.Create(high);
        // vmaxps(low, v) keeps v = −0 against low = +0, where the maximum is +0: adding +0 turns −0 into +0 and changes no
        // other value (NaN included); against any other low, adding −0 changes nothing at all.
        _lowRepair = Vector256.Create(IsPositiveZero(low) ? 0f : -0f);
        // vminps(high, v) keeps v = +0 against high = −0, where the minimum is −0: or-ing the sign bit in makes it −0 and
        // leaves every value at or below −0 as it is; against any other high, or-ing +0 changes nothing.
        _highRepair = Vector256.Create(IsNegativeZero(high) ? -0f : 0f);
    }

    /// <summary>The lower bound (−∞ for none).</summary>
    public float Low { get; }

    /// <summary>The upper bound (+∞ for none).</summary>
    public float High { get; }

    /// <summary>True when there is a lower bound.</summary>
    public bool HasLow { get; }

    /// <summary>True when there is an upper bound.</summary>
    public bool HasHigh { get; }

    /// <summary>True when there is neither bound.</summary>
    public bool IsEmpty => !HasLow && !HasHigh;

    /// <summary>min(max(v, Low), High) for the bounds there are, as Vector256.Max and Vector256.Min give it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> v)
    {
        // vmaxps(a, b) = a > b ? a : b and vminps(a, b) = a < b ? a : b: both return b, which is v, when v is NaN.
        if (HasLow) v = Vector256.MaxNative(_low, v) + _lowRepair;
        if (HasHigh) v = Vector256.MinNative(_high, v) | _highRepair;
        return v;
    }

    /// <summary>The same clamp on one value (MathF.Max, then MathF.Min).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float v)
    {
        if (HasLow) v = MathF.Max(v, Low);
        if (HasHigh) v = MathF.Min(v, High);
        return v;
    }

    /// <summary>What is added after the maximum with the lower bound (+0 or −0).</summary>
    internal float LowRepair => _lowRepair.GetElement(0);

    /// <summary>What is or-ed in after the minimum with the upper bound (−0 or +0).</summary>
    internal float HighRepair => _highRepair.GetElement(0);

    private static bool IsPositiveZero(float x) => BitConverter.SingleToInt32Bits(x) == 0;

    private static bool IsNegativeZero(float x) => BitConverter.SingleToInt32Bits(x) == int.MinValue;
}

/// <summary><see cref="VectorClamp"/> on 512-bit vectors: the same instructions per lane, so the same bits.</summary>
internal readonly struct VectorClamp512
{
    private readonly Vector512<float> _low, _high, _lowRepair, _highRepair;
    private readonly bool _hasLow, _hasHigh;

    public VectorClamp512(VectorClamp clamp)
    {
        (_hasLow, _hasHigh) = (clamp.HasLow, clamp.HasHigh);
        _low = Vector512.Create(clamp.Low);
        _high = Vector512.Create(clamp.High);
        _lowRepair = Vector512.Create(clamp.LowRepair);
        _highRepair = Vector512.Create(clamp.HighRepair);
    }

    /// <summary>As <see cref="VectorClamp.Apply(Vector256{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> v)
    {
        if (_hasLow) v = Vector512.MaxNative(_low, v) + _lowRepair;
        if (_hasHigh) v = Vector512.MinNative(_high, v) | _highRepair;
        return v;
    }
}
