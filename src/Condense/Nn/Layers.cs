// The basic layers, each a thin composition of autograd ops. Their graph forms (ONNX op names) are
// in Graph/ModuleTracers.cs, so Nn does not depend on Graph.
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>Fully connected layer: y = x·Wᵀ + b, W of shape (out × in) as in PyTorch and ONNX.</summary>
public sealed class Linear : Module
{
    /// <summary>Creates the layer with PyTorch's default initialisation: U(−1/√in, 1/√in) for W and b.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Rng? rng = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0) throw new CondenseException($"Linear needs positive sizes, got {inFeatures}→{outFeatures}");
        rng ??= new Rng(0);
        float bound = 1f / MathF.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", new Parameter(Tensor.Uniform(rng, -bound, bound, outFeatures, inFeatures)));
        if (bias) Bias = RegisterParameter("bias", new Parameter(Tensor.Uniform(rng, -bound, bound, outFeatures)));
    }

    /// <summary>The weight, (out × in).</summary>
    public Parameter Weight { get; private set; }

    /// <summary>The bias, (out), or null.</summary>
    public Parameter? Bias { get; private set; }

    /// <summary>Input features.</summary>
    public int InFeatures => Weight.Shape[1];

    /// <summary>Output features.</summary>
    public int OutFeatures => Weight.Shape[0];

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Tensor.Linear(input, Weight, Bias);

}

/// <summary>max(x, 0).</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>Logistic sigmoid.</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>Hyperbolic tangent.</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>Collapses all dimensions after the first: (N, …) → (N, ∏…).</summary>
public sealed class Flatten : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Flatten(1);
}

/// <summary>Inverted dropout, active only in training mode; its mask comes from its own seeded generator.</summary>
public sealed class Dropout : Module
{
    private readonly Rng _rng;

    /// <summary>Creates the layer with drop probability <paramref name="p"/>.</summary>
    public Dropout(float p = 0.5f, ulong seed = 0)
    {
        if (p < 0f || p >= 1f) throw new CondenseException($"dropout probability must be in [0, 1), got {p}");
        P = p;
        _rng = new Rng(seed);
    }

    /// <summary>The drop probability.</summary>
    public float P { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Training ? input.Dropout(P, _rng) : input;

}

/// <summary>Runs sub-modules one after the other; they are named "0", "1", ….</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = [];

    /// <summary>Creates the container from its layers, in order.</summary>
    public Sequential(params Module[] layers)
    {
        foreach (var layer in layers) Append(layer);
    }

    /// <summary>Adds a layer at the end.</summary>
    public Sequential Append(Module layer)
    {
        _layers.Add(RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer));
        return this;
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Module> Layers => _layers;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        foreach (var layer in _layers) input = layer.Forward(input);
        return input;
    }

}
