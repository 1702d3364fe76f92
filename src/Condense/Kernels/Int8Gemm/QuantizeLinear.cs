// The scalar specification of affine quantization, ONNX QuantizeLinear / DequantizeLinear:
//   q = clamp(round(x / scale) + zeroPoint, qMin, qMax),   x̂ = (q − zeroPoint) · scale.
// round is half to even (IEEE 754 roundTiesToEven, as the ONNX spec requires), and x / scale is a
// float32 division as in ONNX Runtime's MLAS (not x · (1/scale), which PyTorch's fake-quant kernels use
// and which can differ by one step on ties). Everything that quantizes in Condense calls these.
namespace Condense.Kernels.Int8Gemm;

/// <summary>ONNX QuantizeLinear / DequantizeLinear on scalars and spans; the reference every path must match.</summary>
internal static unsafe partial class QuantizeLinear
{
    /// <summary>clamp(round_half_even(x / scale) + zeroPoint, qMin, qMax); NaN maps to the zero point.</summary>
    public static int Quantize(float x, float scale, int zeroPoint, int qMin, int qMax)
    {
        // Computed in float like MLAS: nearbyintf(x / scale) + float(zp), clamped, then converted;
        // ±∞ clamp to the ends of the range.
        float r = MathF.Round(x / scale, MidpointRounding.ToEven) + zeroPoint;
        if (float.IsNaN(r)) return zeroPoint;
        return (int)Math.Clamp(r, qMin, qMax);
    }

    /// <summary>(q − zeroPoint) · scale, the integer difference taken first (as ONNX Runtime does).</summary>
    public static float Dequantize(int q, float scale, int zeroPoint) => (q - zeroPoint) * scale;

    /// <summary>
    /// Whether round(x / scale) + zeroPoint lies in [qMin, qMax] before clamping: where the straight-through
    /// estimator passes the gradient (PyTorch's fake_quantize mask). NaN is outside.
    /// </summary>
    public static bool InRange(float x, float scale, int zeroPoint, int qMin, int qMax)
    {
        float r = MathF.Round(x / scale, MidpointRounding.ToEven) + zeroPoint;
        return r >= qMin && r <= qMax;
    }

    /// <summary>Checks what every quantizer needs: a positive finite scale and qMin ≤ zeroPoint ≤ qMax.</summary>
    public static void Validate(float scale, int zeroPoint, int qMin, int qMax)
    {
        if (!(scale > 0f) || !float.IsFinite(scale)) throw new CondenseException($"quantization scale must be positive and finite, got {scale}");
        if (qMin >= qMax) throw new CondenseException($"quantization range [{qMin}, {qMax}] is empty");
        if (zeroPoint < qMin || zeroPoint > qMax) throw new CondenseException($"zero point {zeroPoint} is outside [{qMin}, {qMax}]");
    }
}
