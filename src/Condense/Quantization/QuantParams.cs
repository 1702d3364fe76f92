// Affine quantization parameters and the formulas of ONNX QuantizeLinear / DequantizeLinear:
//   q = clamp(round(w / scale) + zeroPoint, qmin, qmax),   w ≈ scale · (q − zeroPoint),
// with round half to even and w / scale computed in float32, as ONNX Runtime does (Kernels/Int8Gemm/QuantizeLinear).
// FromMinMax chooses the parameters from an observed range the way PyTorch's observers do
// (torch/ao/quantization/observer.py, _calculate_qparams).
using Condense.Kernels.Int8Gemm;

namespace Condense.Quantization;

/// <summary>Scale, zero point and integer range of an affine quantizer.</summary>
public readonly record struct QuantParams
{
    /// <summary>
    /// The smallest scale FromMinMax returns: float32 machine epsilon (2^−23), PyTorch's observer eps.
    /// An all-zero range (min = max = 0) therefore gets scale 2^−23, not a division by zero.
    /// </summary>
    public const float MinScale = 1.1920929e-07f;

    /// <summary>Creates the parameters; the scale must be positive and finite and the zero point inside the range.</summary>
    public QuantParams(float Scale, int ZeroPoint, QuantRange Range)
    {
        QuantizeLinear.Validate(Scale, ZeroPoint, Range.QMin, Range.QMax);
        this.Scale = Scale;
        this.ZeroPoint = ZeroPoint;
        this.Range = Range;
    }

    /// <summary>The step between adjacent quantized values.</summary>
    public float Scale { get; }

    /// <summary>The integer that represents 0 exactly.</summary>
    public int ZeroPoint { get; }

    /// <summary>The integer range values are clamped to.</summary>
    public QuantRange Range { get; }

    /// <summary>The smallest representable value, scale · (qmin − zeroPoint).</summary>
    public float RepresentableMin => Dequantize(Range.QMin);

    /// <summary>The largest representable value, scale · (qmax − zeroPoint).</summary>
    public float RepresentableMax => Dequantize(Range.QMax);

    /// <summary>clamp(round_half_even(x / scale) + zeroPoint, qmin, qmax); NaN maps to the zero point.</summary>
    public int Quantize(float x) => QuantizeLinear.Quantize(x, Scale, ZeroPoint, Range.QMin, Range.QMax);

    /// <summary>scale · (q − zeroPoint).</summary>
    public float Dequantize(int q) => QuantizeLinear.Dequantize(q, Scale, ZeroPoint);

    /// <summary>Dequantize(Quantize(x)): the value x is stored as.</summary>
    public float FakeQuantize(float x) => Dequantize(Quantize(x));

    /// <summary>Quantizes into signed bytes; the range must fit in [−128, 127].</summary>
    public void Quantize(ReadOnlySpan<float> x, Span<sbyte> q)
    {
        CheckFits(sbyte.MinValue, sbyte.MaxValue, "sbyte");
        CheckLengths(x.Length, q.Length);
        for (int i = 0; i < x.Length; i++) q[i] = (sbyte)Quantize(x[i]);
    }

    /// <summary>Quantizes into bytes; the range must fit in [0, 255].</summary>
    public void Quantize(ReadOnlySpan<float> x, Span<byte> q)
    {
        CheckFits(byte.MinValue, byte.MaxValue, "byte");
        CheckLengths(x.Length, q.Length);
        for (int i = 0; i < x.Length; i++) q[i] = (byte)Quantize(x[i]);
    }

    /// <summary>Dequantizes signed bytes.</summary>
    public void Dequantize(ReadOnlySpan<sbyte> q, Span<float> x)
    {
        CheckLengths(q.Length, x.Length);
        for (int i = 0; i < q.Length; i++) x[i] = Dequantize(q[i]);
    }

    /// <summary>Dequantizes bytes.</summary>
    public void Dequantize(ReadOnlySpan<byte> q, Span<float> x)
    {
        CheckLengths(q.Length, x.Length);
        for (int i = 0; i < q.Length; i++) x[i] = Dequantize(q[i]);
    }

    /// <summary>
    /// Parameters covering [min, max], widened to include 0 so that zero is exactly representable
    /// (padding, ReLU outputs). Asymmetric: scale = (max − min) / (qmax − qmin),
    /// zeroPoint = clamp(qmin − round(min / scale), qmin, qmax). Symmetric: scale = max(|min|, |max|) /
    /// ((qmax − qmin) / 2) and zeroPoint = the range's midpoint (0 signed, 128 for uint8) — so a
    /// restricted int8 range gives max|w| / 127, the full one max|w| / 127.5, as in PyTorch.
    /// The scale is at least <see cref="MinScale"/>.
    /// </summary>
    public static QuantParams FromMinMax(float min, float max, QuantRange range, bool symmetric)
    {
        if (float.IsNaN(min) || float.IsNaN(max) || min > max)
            throw new CondenseException($"quantization range needs min ≤ max, got [{min}, {max}]");
        if (!float.IsFinite(min) || !float.IsFinite(max))
            throw new CondenseException($"quantization range must be finite, got [{min}, {max}]");
        float minNeg = MathF.Min(min, 0f), maxPos = MathF.Max(max, 0f);
        if (symmetric)
        {
            float absMax = MathF.Max(-minNeg, maxPos);
            float scale = MathF.Max(absMax / ((range.QMax - range.QMin) / 2f), MinScale);
            return new QuantParams(scale, range.Midpoint, range);
        }
        else
        {
            float scale = MathF.Max((maxPos - minNeg) / (range.QMax - range.QMin), MinScale);
            // PyTorch: zero_point = quant_min − round(min_neg / scale), clamped; round is half to even.
            float zp = range.QMin - MathF.Round(minNeg / scale, MidpointRounding.ToEven);
            return new QuantParams(scale, (int)Math.Clamp(zp, range.QMin, range.QMax), range);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"scale {Scale:R}, zero point {ZeroPoint}, range {Range}";

    private void CheckFits(int min, int max, string type)
    {
        if (Range.QMin < min || Range.QMax > max)
            throw new CondenseException($"range {Range} does not fit in {type}");
    }

    private static void CheckLengths(int source, int destination)
    {
        if (source != destination) throw new ArgumentException($"source has {source} elements, destination {destination}");
    }
}
