// The fake-quantize autograd op (Autograd/Ops.FakeQuantize.cs) in terms of QuantParams, so callers write
// x.FakeQuantize(p) while the Tensors layer stays free of Quantization types.
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>Fake quantization of tensors with <see cref="QuantParams"/>.</summary>
public static class TensorQuantizeExtensions
{
    /// <summary>Per-tensor fake quantization, Dequantize(Quantize(x)), with a straight-through gradient.</summary>
    public static Tensor FakeQuantize(this Tensor x, QuantParams p)
    {
        ArgumentNullException.ThrowIfNull(x);
        return x.FakeQuantize(p.Scale, p.ZeroPoint, p.Range.QMin, p.Range.QMax);
    }

    /// <summary>Per-channel fake quantization along <paramref name="axis"/>; every channel must share one integer range.</summary>
    public static Tensor FakeQuantize(this Tensor x, QuantParams[] perChannel, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(perChannel);
        if (perChannel.Length == 0) throw new CondenseException("per-channel fake quantization needs at least one channel");
        var range = perChannel[0].Range;
        if (perChannel.Any(p => p.Range != range)) throw new CondenseException("per-channel parameters must share one integer range");
        return x.FakeQuantize(perChannel.Select(p => p.Scale).ToArray(), perChannel.Select(p => p.ZeroPoint).ToArray(), axis, range.QMin, range.QMax);
    }
}
