// Quantization-aware training's fake-quantize module, after PyTorch's torch.ao.quantization.FakeQuantize:
// it owns an observer and two switches. With Observe on, each forward feeds the input to the observer and
// refreshes the scale and zero point; with Quantize on, the output is Dequantize(Quantize(x)) with a
// straight-through gradient, otherwise the input unchanged. Calibration: Observe on, Quantize off;
// QAT: both on (then Observe off once ranges settle); the scale and zero point are kept as buffers.
using Condense.Quantization.Observers;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>Observes activations and fake-quantizes them per tensor.</summary>
public sealed class FakeQuantize : Nn.Module
{
    private readonly Tensor _scale, _zeroPoint;

    /// <summary>
    /// Creates the module with its observer (by default a <see cref="MovingAverageMinMaxObserver"/>, as PyTorch's
    /// default QAT activation fake-quant), the integer range (default uint8) and symmetric or affine parameters.
    /// </summary>
    public FakeQuantize(Observer? observer = null, QuantRange? range = null, bool symmetric = false)
    {
        Observer = RegisterModule("activation_post_process", observer ?? new MovingAverageMinMaxObserver());
        Range = range ?? QuantRange.UInt8;
        Symmetric = symmetric;
        Params = new QuantParams(1f, Range.Clamp(0), Range);
        _scale = RegisterBuffer("scale", Tensor.Full(1f, 1));
        _zeroPoint = RegisterBuffer("zero_point", Tensor.Full(Params.ZeroPoint, 1));
    }

    /// <summary>The observer that records the inputs.</summary>
    public Observer Observer { get; }

    /// <summary>The integer range.</summary>
    public QuantRange Range { get; }

    /// <summary>Whether the parameters are symmetric around zero.</summary>
    public bool Symmetric { get; }

    /// <summary>The switch that feeds inputs to the observer and refreshes <see cref="Params"/> (on by default).</summary>
    public bool Observe { get; set; } = true;

    /// <summary>The switch that fake-quantizes the output (on by default); off, the input passes through.</summary>
    public bool Quantize { get; set; } = true;

    /// <summary>The current scale and zero point (scale 1, zero point 0 before any observation).</summary>
    public QuantParams Params { get; private set; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Observe)
        {
            Observer.Observe(input.Data);
            Params = Observer.Compute(Range, Symmetric);
            _scale.Data[0] = Params.Scale;
            _zeroPoint.Data[0] = Params.ZeroPoint;
            _scale.MarkModified();
            _zeroPoint.MarkModified();
        }
        return Quantize ? input.FakeQuantize(Params) : input;
    }
}
