// ONNX QuantizeLinear and DequantizeLinear on float tensors that hold integers (the formula itself is in
// Kernels/Int8Gemm/QuantizeLinear.cs): q = saturate(round_half_even(x / scale) + zero_point), x' = (q − zero_point) · scale,
// per tensor (scalar scale) or per axis (one scale per slice along `axis`). x / scale is computed in
// float32, as ONNX Runtime does. Gradients follow the straight-through estimator: through Q they are
// g / scale inside the representable range and 0 outside, through DQ g · scale, so DQ(Q(x)) passes g
// unchanged where x was representable (Bengio et al. 2013; PyTorch's fake_quantize backward).
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>ONNX QuantizeLinear into [qmin, qmax]; the result holds integers.</summary>
    public Tensor QuantizeLinear(Tensor scale, Tensor? zeroPoint, int axis, long qmin, long qmax)
    {
        var (scales, zeros, outer, channels, inner) = Affine(scale, zeroPoint, axis);
        var y = Uninitialized(Shape);
        var inside = new bool[Size];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                float s = scales[c];
                int z = (int)zeros[c], lo = (int)qmin, hi = (int)qmax;
                int start = (o * channels + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    inside[i] = Kernels.Int8Gemm.QuantizeLinear.InRange(Data[i], s, z, lo, hi);
                    y.Data[i] = Kernels.Int8Gemm.QuantizeLinear.Quantize(Data[i], s, z, lo, hi);
                }
            }
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < channels; c++)
                {
                    int start = (o * channels + c) * inner;
                    for (int i = start; i < start + inner; i++) gx[i] = inside[i] ? g.Data[i] / scales[c] : 0f;
                }
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>ONNX DequantizeLinear: (q − zero_point) · scale.</summary>
    public Tensor DequantizeLinear(Tensor scale, Tensor? zeroPoint, int axis)
    {
        var (scales, zeros, outer, channels, inner) = Affine(scale, zeroPoint, axis);
        var y = Uninitialized(Shape);
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                int start = (o * channels + c) * inner;
                for (int i = start; i < start + inner; i++) y.Data[i] = Kernels.Int8Gemm.QuantizeLinear.Dequantize((int)Data[i], scales[c], (int)zeros[c]);
            }
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < channels; c++)
                {
                    int start = (o * channels + c) * inner;
                    for (int i = start; i < start + inner; i++) gx[i] = g.Data[i] * scales[c];
                }
            AccumulateGrad(gx);
        }, this);
    }

    // Scales and zero points per channel, and the (outer, channels, inner) view of this tensor.
    private (float[] Scales, float[] Zeros, int Outer, int Channels, int Inner) Affine(Tensor scale, Tensor? zeroPoint, int axis)
    {
        if (zeroPoint is not null && zeroPoint.Size != scale.Size)
            throw new CondenseException($"zero point has {zeroPoint.Size} values but scale has {scale.Size}");
        foreach (float s in scale.Data)
            if (!(s > 0f) || !float.IsFinite(s)) throw new CondenseException($"quantization scale must be positive and finite, got {s}");
        var zeros = zeroPoint?.Data ?? new float[scale.Size];
        if (scale.Size == 1) return (scale.Data, zeros, 1, 1, Size);
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank || Shape[axis] != scale.Size)
            throw new CondenseException(
                $"per-axis quantization of {Tensors.Shape.Format(Shape)} along axis {axis} " +
                $"needs {(axis >= 0 && axis < Rank ? Shape[axis] : 0)} scales, got {scale.Size}");
        var (outer, channels, inner) = SplitAt(axis);
        return (scale.Data, zeros, outer, channels, inner);
    }
}
