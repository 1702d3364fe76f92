// Fake quantization with the straight-through estimator (Bengio et al. 2013; Jacob et al. 2018,
// "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference"):
// forward y = (clamp(round(x/s) + z, qmin, qmax) − z) · s in float; backward passes the gradient where
// round(x/s) + z fell inside [qmin, qmax] and zeroes it where the value was clamped, as PyTorch's
// fake_quantize_per_{tensor,channel}_affine do. Scales and zero points are constants (not learned).
// Condense.Quantization adds the QuantParams overloads; this layer only sees numbers.

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Per-tensor fake quantization (quantize then dequantize) with a straight-through gradient.</summary>
    public Tensor FakeQuantize(float scale, int zeroPoint, int qMin, int qMax)
    {
        Kernels.Int8Gemm.QuantizeLinear.Validate(scale, zeroPoint, qMin, qMax);
        var y = Uninitialized(Shape);
        Kernels.Int8Gemm.QuantizeLinear.FakeQuantize(Data, scale, zeroPoint, qMin, qMax, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            Kernels.Int8Gemm.QuantizeLinear.StraightThrough(g.Data, Data, scale, zeroPoint, qMin, qMax, gx);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>
    /// Per-channel fake quantization along <paramref name="axis"/>: slice c uses scales[c] and zeroPoints[c]
    /// (for a Linear weight (out × in), axis 0 gives one scale per output row). Straight-through gradient.
    /// </summary>
    public Tensor FakeQuantize(float[] scales, int[] zeroPoints, int axis, int qMin, int qMax)
    {
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentNullException.ThrowIfNull(zeroPoints);
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank) throw new CondenseException($"quantization axis {axis} out of range for shape {Tensors.Shape.Format(Shape)}");
        int channels = Shape[axis];
        if (scales.Length != channels || zeroPoints.Length != channels)
            throw new CondenseException($"axis {axis} has {channels} channels but got {scales.Length} scales and {zeroPoints.Length} zero points");
        for (int c = 0; c < channels; c++) Kernels.Int8Gemm.QuantizeLinear.Validate(scales[c], zeroPoints[c], qMin, qMax);
        scales = (float[])scales.Clone();
        zeroPoints = (int[])zeroPoints.Clone();
        // x viewed as (outer, channels, inner): channel c's elements are the runs [(o·C + c)·inner, +inner).
        int inner = 1;
        for (int i = axis + 1; i < Rank; i++) inner *= Shape[i];
        int outer = channels == 0 || inner == 0 ? 0 : Size / (channels * inner);
        var y = Uninitialized(Shape);
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                int start = (o * channels + c) * inner;
                Kernels.Int8Gemm.QuantizeLinear.FakeQuantize(Data.AsSpan(start, inner), scales[c], zeroPoints[c], qMin, qMax, y.Data.AsSpan(start, inner));
            }
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < channels; c++)
                {
                    int start = (o * channels + c) * inner;
                    Kernels.Int8Gemm.QuantizeLinear.StraightThrough(g.Data.AsSpan(start, inner), Data.AsSpan(start, inner),
                        scales[c], zeroPoints[c], qMin, qMax, gx.AsSpan(start, inner));
                }
            AccumulateGrad(gx);
        }, this);
    }
}
