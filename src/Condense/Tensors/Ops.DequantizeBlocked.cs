// ONNX DequantizeLinear with blocked quantization (opset 21): along `axis`, every `block_size` consecutive
// elements share one scale and zero point, so scale has the input's shape except ceil(D / block_size) along
// the axis; x' = (q − zero_point[block]) · scale[block]. Used for block-wise int4 weights (MatMulNBits export).
// The gradient is g · scale[block] (straight-through, as for per-axis DequantizeLinear).
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Blocked ONNX DequantizeLinear: one (scale, zero point) per <paramref name="blockSize"/> elements along <paramref name="axis"/>.</summary>
    public Tensor DequantizeLinearBlocked(Tensor scale, Tensor? zeroPoint, int axis, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(scale);
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis >= Rank) throw new CondenseException($"blocked DequantizeLinear: axis {axis} is outside a rank-{Rank} input");
        if (blockSize < 1) throw new CondenseException($"blocked DequantizeLinear: block_size must be positive, got {blockSize}");
        var (outer, length, inner) = SplitAt(axis);
        int blocks = (length + blockSize - 1) / blockSize;
        if (scale.Size != (long)outer * blocks * inner || scale.Rank != Rank || scale.Shape[axis] != blocks)
            throw new CondenseException(
                $"blocked DequantizeLinear of {Tensors.Shape.Format(Shape)} (axis {axis}, block_size {blockSize}) " +
                $"needs scales of {blocks} blocks along the axis, got {Tensors.Shape.Format(scale.Shape)}");
        if (zeroPoint is not null && zeroPoint.Size != scale.Size)
            throw new CondenseException($"zero point has {zeroPoint.Size} values but scale has {scale.Size}");
        foreach (float s in scale.Data)
            if (!(s > 0f) || !float.IsFinite(s)) throw new CondenseException($"quantization scale must be positive and finite, got {s}");
        var zeros = zeroPoint?.Data;
        // x is (outer, length, inner); scale and zero point are (outer, blocks, inner).
        var scaleOf = new float[Size];
        var y = Uninitialized(Shape);
        for (int o = 0; o < outer; o++)
            for (int d = 0; d < length; d++)
                for (int i = 0; i < inner; i++)
                {
                    int at = (o * length + d) * inner + i, block = (o * blocks + d / blockSize) * inner + i;
                    scaleOf[at] = scale.Data[block];
                    y.Data[at] = Kernels.Int8Gemm.QuantizeLinear.Dequantize((int)Data[at], scale.Data[block], zeros is null ? 0 : (int)zeros[block]);
                }
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int i = 0; i < gx.Length; i++) gx[i] = g.Data[i] * scaleOf[i];
            AccumulateGrad(gx);
        }, this);
    }
}
