// The integer range of a quantized type: [QMin, QMax]. Signed b-bit is [−2^(b−1), 2^(b−1) − 1] (int8
// [−128, 127], int4 [−8, 7]); unsigned b-bit is [0, 2^b − 1]. The "restricted" signed range
// [−(2^(b−1) − 1), 2^(b−1) − 1] drops the most negative level so that a symmetric scale maps ±max|w|
// to ±QMax exactly; PyTorch uses it for symmetric weights (quant_min = −127) and ONNX Runtime for
// symmetric int8 (reduce_range aside). Both ranges always contain 0.
namespace Condense.Quantization;

/// <summary>An integer range [<see cref="QMin"/>, <see cref="QMax"/>] that quantized values are clamped to.</summary>
public readonly record struct QuantRange(int QMin, int QMax)
{
    /// <summary>The smallest integer.</summary>
    public int QMin { get; init; } = QMin < QMax ? QMin : throw new CondenseException($"quantization range [{QMin}, {QMax}] is empty");

    /// <summary>The largest integer.</summary>
    public int QMax { get; init; } = QMax;

    /// <summary>The number of representable integers, QMax − QMin + 1.</summary>
    public int Levels => QMax - QMin + 1;

    /// <summary>True when the range has negative values.</summary>
    public bool IsSigned => QMin < 0;

    /// <summary>Signed two's-complement b-bit range [−2^(b−1), 2^(b−1) − 1], b in 2–8.</summary>
    public static QuantRange Signed(int bits) => new(-(1 << (CheckBits(bits) - 1)), (1 << (bits - 1)) - 1);

    /// <summary>Unsigned b-bit range [0, 2^b − 1], b in 2–8.</summary>
    public static QuantRange Unsigned(int bits) => new(0, (1 << CheckBits(bits)) - 1);

    /// <summary>The restricted symmetric signed range [−(2^(b−1) − 1), 2^(b−1) − 1] (int8: [−127, 127]), b in 2–8.</summary>
    public static QuantRange Restricted(int bits) => new(-((1 << (CheckBits(bits) - 1)) - 1), (1 << (bits - 1)) - 1);

    /// <summary>int8, [−128, 127].</summary>
    public static QuantRange Int8 => Signed(8);

    /// <summary>uint8, [0, 255].</summary>
    public static QuantRange UInt8 => Unsigned(8);

    /// <summary>int4, [−8, 7].</summary>
    public static QuantRange Int4 => Signed(4);

    /// <summary>Clamps <paramref name="q"/> into the range.</summary>
    public int Clamp(int q) => Math.Clamp(q, QMin, QMax);

    /// <summary>
    /// The integer at the middle of the range, rounded up: 0 for signed ranges, 2^(b−1) for unsigned
    /// (PyTorch's symmetric uint8 zero point, 128).
    /// </summary>
    public int Midpoint => (QMin + QMax + 1) >> 1;

    private static int CheckBits(int bits) =>
        bits is >= 2 and <= 8 ? bits : throw new CondenseException($"quantization bit width must be 2–8, got {bits}");

    /// <inheritdoc />
    public override string ToString() => $"[{QMin}, {QMax}]";
}
