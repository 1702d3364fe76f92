// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, exactly as
// torch.optim.SGD: g += wd·w; v = μ·v + (1 − dampening)·g (v = g on the first step);
// step = g + μ·v (Nesterov) or v; w −= lr·step.
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Condense.Nn;

namespace Condense.Optim;

/// <summary>SGD with optional momentum, Nesterov and weight decay.</summary>
public sealed class Sgd : Optimizer
{
    private readonly float[]?[] _velocity;
    private readonly bool[] _first;

    /// <summary>Creates the optimizer.</summary>
    public Sgd(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0f, float weightDecay = 0f,
        bool nesterov = false, float dampening = 0f) : base(parameters, learningRate)
    {
        if (momentum < 0f || weightDecay < 0f) throw new CondenseException("momentum and weight decay must not be negative");
        if (dampening is < 0f or > 1f) throw new CondenseException($"dampening must be in [0, 1], got {dampening}");
        if (nesterov && (momentum <= 0f || dampening != 0f)) throw new CondenseException("Nesterov momentum needs momentum > 0 and no dampening");
        Momentum = momentum; WeightDecay = weightDecay; Nesterov = nesterov; Dampening = dampening;
        _velocity = new float[]?[Params.Count];
        _first = new bool[Params.Count];
    }

    /// <summary>Momentum factor μ.</summary>
    public float Momentum { get; }
    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }
    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }
    /// <summary>Dampening of the momentum.</summary>
    public float Dampening { get; }

    /// <inheritdoc />
    protected override void BeginStep(int index, int size)
    {
        _first[index] = Momentum != 0f && _velocity[index] is null;
        if (_first[index]) _velocity[index] = new float[size];
    }

    /// <inheritdoc />
    protected override void Update(int index, Span<float> w, ReadOnlySpan<float> grad, int offset)
    {
        float lr = LearningRate, wd = WeightDecay, mu = Momentum, damp = 1f - Dampening;
        if (mu == 0f)
        {
            // w −= lr·(g + wd·w)  ⇔  w = (1 − lr·wd)·w − lr·g
            if (wd != 0f) TensorPrimitives.Multiply(w, 1f - lr * wd, w);
            TensorPrimitives.MultiplyAdd(grad, -lr, w, w);
            return;
        }
        var v = _velocity[index]!.AsSpan(offset, w.Length);
        bool first = _first[index];
        // One fused, vectorised pass per parameter: the update is memory-bound, so each array is read once.
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vLr = new Vector<float>(lr); var vWd = new Vector<float>(wd); var vMu = new Vector<float>(mu); var vDamp = new Vector<float>(damp);
            var wv = MemoryMarshal.Cast<float, Vector<float>>(w);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(grad);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            for (int j = 0; j < wv.Length; j++)
            {
                var g = gv[j] + vWd * wv[j];
                var velocity = first ? g : vMu * vv[j] + vDamp * g;
                vv[j] = velocity;
                wv[j] -= vLr * (Nesterov ? g + vMu * velocity : velocity);
            }
            i = wv.Length * Vector<float>.Count;
        }
        for (; i < w.Length; i++)
        {
            float g = grad[i] + wd * w[i];
            float vi = first ? g : mu * v[i] + damp * g;
            v[i] = vi;
            w[i] -= lr * (Nesterov ? g + mu * vi : vi);
        }
    }

    /// <inheritdoc />
    public override IEnumerable<float[]> State(int index)
    {
        if (_velocity[index] is { } v) yield return v;
    }
}
