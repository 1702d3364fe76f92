// A Linear layer for quantization-aware training, after torch.ao.nn.qat.Linear: the weight is
// fake-quantized per output channel (one scale per row of the (out × in) weight) from its current min
// and max at every forward, so the parameters follow the weight as it trains; the input may pass through
// an activation FakeQuantize first. It shares the wrapped layer's parameters (same names, same storage).
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>y = fq(x) · fq_per_channel(W)ᵀ + b, with straight-through gradients.</summary>
public sealed class FakeQuantizedLinear : Module
{
    /// <summary>
    /// Wraps <paramref name="linear"/>; weights use <paramref name="weightRange"/> (default restricted int8,
    /// symmetric per channel, as PyTorch's default QAT weight fake-quant); <paramref name="inputQuantizer"/>
    /// optionally fake-quantizes the input.
    /// </summary>
    public FakeQuantizedLinear(Linear linear, QuantRange? weightRange = null, bool symmetricWeights = true, FakeQuantize? inputQuantizer = null)
    {
        ArgumentNullException.ThrowIfNull(linear);
        Weight = RegisterParameter("weight", linear.Weight);
        if (linear.Bias is { } bias) Bias = RegisterParameter("bias", bias);
        WeightRange = weightRange ?? QuantRange.Restricted(8);
        SymmetricWeights = symmetricWeights;
        if (inputQuantizer is not null) InputQuantizer = RegisterModule("input_fake_quant", inputQuantizer);
    }

    /// <summary>The weight, (out × in), shared with the wrapped layer.</summary>
    public Parameter Weight { get; }

    /// <summary>The bias, or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>The integer range of the weights.</summary>
    public QuantRange WeightRange { get; }

    /// <summary>Whether weight parameters are symmetric.</summary>
    public bool SymmetricWeights { get; }

    /// <summary>The input's fake-quantizer, or null.</summary>
    public FakeQuantize? InputQuantizer { get; }

    /// <summary>The per-row parameters the weight is quantized with now.</summary>
    public QuantParams[] WeightParams() => AffineQuantizer.PerChannel(Weight, 0, WeightRange, SymmetricWeights);

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var x = InputQuantizer is null ? input : InputQuantizer.Forward(input);
        var w = Weight.FakeQuantize(WeightParams(), 0);
        return Tensor.Linear(x, w, Bias);
    }
}
