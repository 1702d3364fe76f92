// The public int8 Linear kernel of quantized inference (Jacob et al. 2018, "Quantization and Training of
// Neural Networks for Efficient Integer-Arithmetic-Only Inference"): uint8 activations with a zero point
// times per-channel symmetric int8 weights, exact int32 accumulators, optionally requantized to 8 bits in
// the same call. Activations are uint8 because that is what ONNX QLinearMatMul / QDQ models carry and what
// a ReLU output fills (asymmetric [0, max] uses all 256 codes), and uint8 × int8 is what vpdpbusd multiplies;
// widening to int16 (the vpmaddwd kernels) or the zero point folded into the offset keeps every kernel exact
// for any zero point. QGemmReference.cs is the spec; Cpu.ActiveInt8Dot picks pairs or quads (vpmaddubsw quads only
// for weights whose pair sums cannot saturate int16, PackedInt8Weights.PairSumsFitInt16).
using Condense.Kernels.Int8Gemm.Jit;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>Integer GEMM for quantized Linear layers: y = X·Wᵀ with uint8 X and int8 W.</summary>
public static unsafe class QGemm
{
    /// <summary>
    /// acc[i, o] = Σ_k (x[i, k] − xZeroPoint) · W[o, k] + bias[o] for X (m × k, row-major uint8) and the packed
    /// W (n × k); acc is m × n int32, row-major. <paramref name="bias"/> is empty (no bias) or has n entries
    /// (already quantized: round(bias / (sx·sw[o]))). Exact: equal to the int64 sum cast to int32 (it wraps only
    /// if the bias itself brings the sum past ±2^31). Identical on every path and thread count.
    /// </summary>
    public static void LinearForward(int m, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<int> bias, Span<int> acc)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Validate(m, x.Length, weight, bias.Length);
        CheckLength(nameof(acc), acc.Length, (long)m * weight.OutFeatures);
        if (m == 0 || weight.OutFeatures == 0) return;
        fixed (byte* px = x)
        fixed (int* pb = bias, pc = acc)
            Run(m, px, xZeroPoint, weight, bias.IsEmpty ? null : pb, pc, default);
    }

    /// <summary>
    /// The fused quantized Linear: y[i, o] = clamp(yZeroPoint + MultiplyByQuantizedMultiplier(acc[i, o],
    /// multiplier[o], shift[o]), qmin, qmax) with acc as in <see cref="LinearForward"/>; y is m × n uint8.
    /// multiplier/shift come from <see cref="Requantize.QuantizeMultiplier"/> of sx·sw[o]/sy. ReLU is fused by
    /// qmin = yZeroPoint. The int32 sums live only in a per-thread scratch block.
    /// </summary>
    public static void LinearForwardRequantized(int m, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift,
        byte yZeroPoint, byte qmin, byte qmax, Span<byte> y)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Validate(m, x.Length, weight, bias.Length);
        int n = weight.OutFeatures;
        Requantize.CheckRow(n, multiplier.Length, shift.Length, n, yZeroPoint, qmin, qmax, byte.MinValue, byte.MaxValue);
        Requantize.CheckShifts(shift);
        CheckLength(nameof(y), y.Length, (long)m * n);
        if (m == 0 || n == 0) return;
        fixed (byte* px = x, py = y)
        fixed (int* pb = bias, pm = multiplier, ps = shift)
            Run(m, px, xZeroPoint, weight, bias.IsEmpty ? null : pb, null, new QOutput(pm, ps, yZeroPoint, qmin, qmax, py));
    }

    /// <summary>
    /// The dequantizing Linear of dynamic int8 MatMuls: y[i, o] = float(acc[i, o])·scales[o] (+ floatBias[o]) with acc as in
    /// <see cref="LinearForward"/> (no integer bias); y is m × n float, row-major. scales[o] is s_x·s_w[o];
    /// <paramref name="floatBias"/> is empty or has n entries. The int32 sums live only in a per-thread scratch block.
    /// </summary>
    public static void LinearForwardDequantized(int m, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<float> scales, ReadOnlySpan<float> floatBias, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Validate(m, x.Length, weight, floatBias.Length);
        int n = weight.OutFeatures;
        CheckLength(nameof(scales), scales.Length, n);
        CheckLength(nameof(y), y.Length, (long)m * n);
        if (m == 0 || n == 0) return;
        fixed (byte* px = x)
        fixed (float* ps = scales, pb = floatBias, py = y)
            Run(m, px, xZeroPoint, weight, null, null,
                new QOutput(null, null, 0, 0, 0, null) { FloatY = py, Scales = ps, Bias = floatBias.IsEmpty ? null : pb });
    }

    private static void Run(int m, byte* x, int xZeroPoint, PackedInt8Weights w, int* bias, int* acc, in QOutput requant)
    {
        var dot = Cpu.ActiveInt8Dot;
        switch (Cpu.Active)
        {
            case not KernelPath.Scalar when dot == Int8Dot.MaddubsQuads && w.PairSumsFitInt16:
                QGemmDriver<QGemmKernelQuads<MaddubsDot4>>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
            case not KernelPath.Scalar when dot == Int8Dot.Quads:
                QGemmDriver<QGemmKernelQuads<VnniDot4>>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
            case not KernelPath.Scalar when dot == Int8Dot.EmulatedQuads:
                QGemmDriver<QGemmKernelQuads<EmulatedDot4>>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
            case KernelPath.Avx512 when dot == Int8Dot.JitZmmQuads:
                QGemmDriver<QGemmKernelJitZmm>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
            case KernelPath.Avx512: QGemmDriver<QGemmKernelAvx512>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
            case KernelPath.Avx2: QGemmDriver<QGemmKernelAvx2>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
            default: QGemmDriver<QGemmKernelScalar>.Run(m, x, xZeroPoint, w, bias, acc, requant); break;
        }
        GC.KeepAlive(w); // its pinned array must outlive the raw pointer the driver used
    }

    private static void Validate(int m, int xLength, PackedInt8Weights w, int biasLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        CheckLength("x", xLength, (long)m * w.InFeatures);
        if (biasLength != 0 && biasLength != w.OutFeatures)
            throw new ArgumentException($"bias holds {biasLength} values; it must be empty or hold one per output ({w.OutFeatures})", "bias");
    }

    private static void CheckLength(string name, int length, long needed)
    {
        if (length != needed) throw new ArgumentException($"{name} holds {length} values, the shape needs {needed}", name);
    }
}
