// Whole-tensor affine quantization: parameters per tensor or per channel, the quantized integers
// (sbyte / byte, row-major like the tensor) and back, and the error it costs. Per channel along an
// axis: channel c holds the elements whose index on that axis is c — for a Linear weight (out × in)
// and axis 0, one scale per output row, as PyTorch's per_channel_symmetric and ONNX's per-axis
// QuantizeLinear.
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>The quantization error of a tensor: mean squared and largest absolute difference.</summary>
public readonly record struct QuantError(double Mse, float MaxAbs);

/// <summary>Affine quantization of whole tensors, per tensor or per channel.</summary>
public static class AffineQuantizer
{
    /// <summary>Parameters from the tensor's min and max (see <see cref="QuantParams.FromMinMax"/>).</summary>
    public static QuantParams PerTensor(Tensor x, QuantRange range, bool symmetric)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (min, max) = MinMax(x.Data);
        return QuantParams.FromMinMax(min, max, range, symmetric);
    }

    /// <summary>One set of parameters per index of <paramref name="axis"/>, each from that slice's min and max.</summary>
    public static QuantParams[] PerChannel(Tensor w, int axis, QuantRange range, bool symmetric)
    {
        ArgumentNullException.ThrowIfNull(w);
        var (outer, channels, inner) = Split(w.Shape, ref axis);
        var min = new float[channels];
        var max = new float[channels];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                var (lo, hi) = MinMax(w.Data.AsSpan((o * channels + c) * inner, inner));
                min[c] = MathF.Min(min[c], lo);
                max[c] = MathF.Max(max[c], hi);
            }
        var result = new QuantParams[channels];
        for (int c = 0; c < channels; c++)
            result[c] = outer * inner == 0 ? QuantParams.FromMinMax(0f, 0f, range, symmetric) : QuantParams.FromMinMax(min[c], max[c], range, symmetric);
        return result;
    }

    /// <summary>Quantizes per tensor into signed bytes (range within [−128, 127]).</summary>
    public static sbyte[] QuantizeToSByte(Tensor x, QuantParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        var q = new sbyte[x.Size];
        p.Quantize(x.Data, q);
        return q;
    }

    /// <summary>Quantizes per tensor into bytes (range within [0, 255]).</summary>
    public static byte[] QuantizeToByte(Tensor x, QuantParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        var q = new byte[x.Size];
        p.Quantize(x.Data, q);
        return q;
    }

    /// <summary>Quantizes per channel along <paramref name="axis"/> into signed bytes.</summary>
    public static sbyte[] QuantizeToSByte(Tensor x, QuantParams[] perChannel, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        var q = new sbyte[x.Size];
        ForEachChannel(x.Shape, perChannel, axis, (p, start, length) => p.Quantize(x.Data.AsSpan(start, length), q.AsSpan(start, length)));
        return q;
    }

    /// <summary>Quantizes per channel along <paramref name="axis"/> into bytes.</summary>
    public static byte[] QuantizeToByte(Tensor x, QuantParams[] perChannel, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        var q = new byte[x.Size];
        ForEachChannel(x.Shape, perChannel, axis, (p, start, length) => p.Quantize(x.Data.AsSpan(start, length), q.AsSpan(start, length)));
        return q;
    }

    /// <summary>The float tensor of the given shape that signed bytes stand for.</summary>
    public static Tensor Dequantize(sbyte[] q, int[] shape, QuantParams p)
    {
        var x = ShapedLike(q.Length, shape);
        p.Dequantize(q, x.Data);
        return x;
    }

    /// <summary>The float tensor of the given shape that bytes stand for.</summary>
    public static Tensor Dequantize(byte[] q, int[] shape, QuantParams p)
    {
        var x = ShapedLike(q.Length, shape);
        p.Dequantize(q, x.Data);
        return x;
    }

    /// <summary>Dequantizes per-channel signed bytes.</summary>
    public static Tensor Dequantize(sbyte[] q, int[] shape, QuantParams[] perChannel, int axis)
    {
        var x = ShapedLike(q.Length, shape);
        ForEachChannel(shape, perChannel, axis, (p, start, length) => p.Dequantize(q.AsSpan(start, length), x.Data.AsSpan(start, length)));
        return x;
    }

    /// <summary>Dequantizes per-channel bytes.</summary>
    public static Tensor Dequantize(byte[] q, int[] shape, QuantParams[] perChannel, int axis)
    {
        var x = ShapedLike(q.Length, shape);
        ForEachChannel(shape, perChannel, axis, (p, start, length) => p.Dequantize(q.AsSpan(start, length), x.Data.AsSpan(start, length)));
        return x;
    }

    /// <summary>The error of storing <paramref name="x"/> with per-tensor parameters.</summary>
    public static QuantError Error(Tensor x, QuantParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        var acc = new ErrorAccumulator();
        acc.Add(x.Data, p);
        return acc.Result(x.Size);
    }

    /// <summary>The error of storing <paramref name="x"/> with per-channel parameters.</summary>
    public static QuantError Error(Tensor x, QuantParams[] perChannel, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        var acc = new ErrorAccumulator();
        ForEachChannel(x.Shape, perChannel, axis, (p, start, length) => acc.Add(x.Data.AsSpan(start, length), p));
        return acc.Result(x.Size);
    }

    /// <summary>The finite min and max of the values (0, 0 when there are none).</summary>
    internal static (float Min, float Max) MinMax(ReadOnlySpan<float> values)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) continue;
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return min <= max ? (min, max) : (0f, 0f);
    }

    private sealed class ErrorAccumulator
    {
        private double _sum;
        private float _max;

        public void Add(ReadOnlySpan<float> x, QuantParams p)
        {
            foreach (float v in x)
            {
                float e = MathF.Abs(v - p.FakeQuantize(v));
                _sum += (double)e * e;
                _max = MathF.Max(_max, e);
            }
        }

        public QuantError Result(int count) => new(count == 0 ? 0 : _sum / count, _max);
    }

    private static Tensor ShapedLike(int length, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (Tensors.Shape.Size(shape) != length)
            throw new CondenseException($"{length} quantized values do not fill shape {Tensors.Shape.Format(shape)}");
        return Tensor.Zeros(shape);
    }

    // Calls body(params of channel c, start, length) for every contiguous run of the (outer, C, inner) view.
    private static void ForEachChannel(int[] shape, QuantParams[] perChannel, int axis, Action<QuantParams, int, int> body)
    {
        ArgumentNullException.ThrowIfNull(perChannel);
        var (outer, channels, inner) = Split(shape, ref axis);
        if (perChannel.Length != channels)
            throw new CondenseException(
                $"axis {axis} of shape {Tensors.Shape.Format(shape)} has {channels} channels but got {perChannel.Length} parameter sets");
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
                body(perChannel[c], (o * channels + c) * inner, inner);
    }

    // The shape viewed as (outer, channels, inner) around the axis.
    internal static (int Outer, int Channels, int Inner) Split(int[] shape, ref int axis)
    {
        if (axis < 0) axis += shape.Length;
        if (axis < 0 || axis >= shape.Length)
            throw new CondenseException($"quantization axis {axis} out of range for shape {Tensors.Shape.Format(shape)}");
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[axis], inner);
    }
}
