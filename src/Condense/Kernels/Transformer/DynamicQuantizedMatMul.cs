// MatMul with dynamic int8 quantization on the integer GEMM: Y = X·W for float X (m × k) and int8 codes W (k × n)
// with per-tensor or per-column scales s_w and zero point 0, X quantized per tensor at run time as ONNX
// DynamicQuantizeLinear does (uint8, s_x = (max(0, max X) − min(0, min X)) / 255, z_x = round(−min(0, min X) / s_x)).
// Then Y[i, o] = s_x·s_w[o]·Σ_k (q_x[i, k] − z_x)·W[k, o] (+ bias[o]): the sum is exact in int32 (QGemm, whose
// epilogue scales and adds the bias to each block of sums while it is in cache), so this
// equals the float simulation DequantizeLinear(DynamicQuantizeLinear(X)) × DequantizeLinear(W) up to float rounding —
// ONNX Runtime's DynamicQuantizeMatMul (com.microsoft) and MatMulInteger chains compute the same.
using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Transformer;

/// <summary>int8 weights of a MatMul packed for <see cref="QGemm"/>, with their scales.</summary>
internal sealed class DynamicQuantizedWeight
{
    /// <summary>
    /// Packs the codes of W (k × n, row-major, integer values in [−128, 127]) with 1 or n positive scales, and 1 or n zero
    /// points (int8 values; empty or all zero: none).
    /// </summary>
    public DynamicQuantizedWeight(ReadOnlySpan<float> codes, int k, int n, ReadOnlySpan<float> scales, ReadOnlySpan<float> zeroPoints = default)
    {
        if (zeroPoints.Length is not (0 or 1) && zeroPoints.Length != n)
            throw new ArgumentException($"{zeroPoints.Length} zero points for {n} columns", nameof(zeroPoints));
        foreach (float z in zeroPoints)
            if (z != MathF.Round(z) || z < sbyte.MinValue || z > sbyte.MaxValue)
                throw new ArgumentException($"weight zero point {z} is not an int8 value", nameof(zeroPoints));
        if (zeroPoints.ContainsAnyExcept(0f))
            ZeroPoints = zeroPoints.Length == n ? zeroPoints.ToArray() : Enumerable.Repeat(zeroPoints[0], n).ToArray();
        if (codes.Length != (long)k * n) throw new ArgumentException($"{codes.Length} weight codes for a {k} × {n} matrix", nameof(codes));
        if (scales.Length != 1 && scales.Length != n) throw new ArgumentException($"{scales.Length} scales for {n} columns", nameof(scales));
        var transposed = new sbyte[codes.Length];
        for (int r = 0; r < k; r++)
            for (int c = 0; c < n; c++)
            {
                float v = codes[r * n + c];
                if (v != MathF.Round(v) || v < sbyte.MinValue || v > sbyte.MaxValue)
                    throw new ArgumentException($"weight code {v} at ({r}, {c}) is not an int8 value", nameof(codes));
                transposed[c * k + r] = (sbyte)v;
            }
        Packed = new PackedInt8Weights(transposed, n, k);
        Scales = scales.Length == n ? scales.ToArray() : Enumerable.Repeat(scales[0], n).ToArray();
    }

    /// <summary>Wᵀ (n × k) in QGemm's panels.</summary>
    public PackedInt8Weights Packed { get; }

    /// <summary>s_w per output column.</summary>
    public float[] Scales { get; }

    /// <summary>z_w per output column, or null when every one is 0.</summary>
    public float[]? ZeroPoints { get; }
}

/// <summary>Y = dequantize(quantize_dynamic(X)) · dequantize(W) on integer arithmetic.</summary>
internal static class DynamicQuantizedMatMul
{
    /// <summary>Elements of X below which one thread finds its range.</summary>
    private const int ParallelElements = 1 << 16;

    /// <summary>
    /// The scale and zero point DynamicQuantizeLinear gives <paramref name="x"/> (the formula of GraphOps.DynamicQuantizeLinear,
    /// which the float simulation runs): NaNs are skipped, an all-zero tensor gets scale 1.
    /// </summary>
    public static (float Scale, byte ZeroPoint) Parameters(ReadOnlySpan<float> x)
    {
        float min = 0f, max = 0f;
        foreach (float v in x) { if (v < min) min = v; if (v > max) max = v; }
        return FromRange(min, max);
    }

    // The parameters for the range [min, max] (which holds 0).
    private static (float Scale, byte ZeroPoint) FromRange(float min, float max)
    {
        float scale = (max - min) / 255f;
        if (scale == 0f) scale = 1f;
        return (scale, (byte)Math.Clamp(MathF.Round(-min / scale), 0f, 255f));
    }

    /// <summary>
    /// <see cref="Parameters"/> of x on the active path in one pass over it (the minimum and maximum together, on vector lanes),
    /// split between threads when x is large; min and max are exact, so the split changes nothing.
    /// </summary>
    internal static (float Scale, byte ZeroPoint) ParametersParallel(float[] x)
    {
        var path = Cpu.Active;
        int chunks = Math.Max(1, x.Length / ParallelElements);
        var minima = new float[chunks];
        var maxima = new float[chunks];
        ParallelRanges.For(chunks, x.Length, ParallelElements, (first, last) =>
        {
            for (int c = first; c < last; c++)
            {
                int start = (int)((long)x.Length * c / chunks), end = (int)((long)x.Length * (c + 1) / chunks);
                (minima[c], maxima[c]) = Range(path, x.AsSpan(start, end - start));
            }
        });
        float min = minima.Min(), max = maxima.Max();
        return float.IsNaN(min) || float.IsNaN(max) ? Parameters(x) : FromRange(min, max);
    }

    // min(0, min x) and max(0, max x) of a span; NaN when it holds a NaN. The lanes take vminps/vmaxps (MinNative/MaxNative:
    // Vector256.Min/Max of two variables is about ten instructions, as they order NaNs and signed zeros) and note NaNs apart;
    // a zero's sign cannot change the parameters (FromRange).
    private static (float Min, float Max) Range(KernelPath path, ReadOnlySpan<float> x)
    {
        int i = 0;
        float min = 0f, max = 0f;
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated && x.Length >= 16)
        {
            Vector512<float> low = Vector512<float>.Zero, high = Vector512<float>.Zero, nan = Vector512<float>.Zero;
            for (; i + 16 <= x.Length; i += 16)
            {
                var v = Vector512.Create(x.Slice(i, 16));
                (low, high, nan) = (Vector512.MinNative(low, v), Vector512.MaxNative(high, v), nan | ~Vector512.Equals(v, v));
            }
            if (nan != Vector512<float>.Zero) return (float.NaN, float.NaN);
            var (lowHalf, highHalf) = (Vector256.MinNative(low.GetLower(), low.GetUpper()), Vector256.MaxNative(high.GetLower(), high.GetUpper()));
            for (int lane = 0; lane < 8; lane++) (min, max) = (MathF.Min(min, lowHalf[lane]), MathF.Max(max, highHalf[lane]));
        }
        else if (path != KernelPath.Scalar && Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            Vector256<float> low = Vector256<float>.Zero, high = Vector256<float>.Zero, nan = Vector256<float>.Zero;
            for (; i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.Create(x.Slice(i, 8));
                (low, high, nan) = (Vector256.MinNative(low, v), Vector256.MaxNative(high, v), nan | ~Vector256.Equals(v, v));
            }
            if (nan != Vector256<float>.Zero) return (float.NaN, float.NaN);
            for (int lane = 0; lane < 8; lane++) (min, max) = (MathF.Min(min, low[lane]), MathF.Max(max, high[lane]));
        }
        for (; i < x.Length; i++) (min, max) = (MathF.Min(min, x[i]), MathF.Max(max, x[i]));
        return (min, max);
    }

    /// <summary>
    /// y (m × n) = X·W (+ bias) for x (m × k); <paramref name="bias"/> is empty or has n values. X is quantized with
    /// <paramref name="fixedInput"/> when given (a static graph's QuantizeLinear), else with its own range.
    /// </summary>
    public static void Multiply(float[] x, int m, DynamicQuantizedWeight weight, float[]? bias, float[] y, (float Scale, byte ZeroPoint)? fixedInput = null)
    {
        int k = weight.Packed.InFeatures, n = weight.Packed.OutFeatures;
        if (x.Length != (long)m * k || y.Length != (long)m * n) throw new ArgumentException($"X must be {m} × {k} and Y {m} × {n}");
        var (scale, zeroPoint) = fixedInput ?? ParametersParallel(x);
        var codes = ArrayPool<byte>.Shared.Rent(m * k);
        try
        {
            QuantizeLinear.QuantizeToByteParallel(x, scale, zeroPoint, codes.AsSpan(0, m * k));
            var columnScales = new float[n];
            TensorPrimitives.Multiply(weight.Scales, scale, columnScales);
            QGemm.LinearForwardDequantized(m, codes.AsSpan(0, m * k), zeroPoint, weight.Packed, columnScales, bias ?? [], y);
            if (weight.ZeroPoints is { } zeros) SubtractZeroPointTerms(codes.AsSpan(0, m * k), zeroPoint, m, k, zeros, columnScales, y);
        }
        finally { ArrayPool<byte>.Shared.Return(codes); }
    }

    // Σ_k (q_x − z_x)(W − z_w) = Σ_k (q_x − z_x)·W − z_w·Σ_k (q_x − z_x): the product took the first sum, so each output
    // loses s_x·s_w·z_w times its row's sum of codes (an exact integer).
    private static void SubtractZeroPointTerms(ReadOnlySpan<byte> codes, byte zeroPoint, int m, int k, float[] zeros, float[] columnScales, float[] y)
    {
        int n = zeros.Length;
        var perColumn = new float[n];
        TensorPrimitives.Multiply(columnScales, zeros, perColumn);
        for (int i = 0; i < m; i++)
        {
            long sum = -(long)k * zeroPoint;
            foreach (byte c in codes.Slice(i * k, k)) sum += c;
            var row = y.AsSpan(i * n, n);
            TensorPrimitives.MultiplyAdd(perColumn, -(float)sum, row, row);
        }
    }
}
