// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as torch.optim.Adam/AdamW:
// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w −= lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε).
// Adam adds wd·w to g (L2); AdamW decays the weights directly: w −= lr·wd·w.
using System.Numerics;
using System.Runtime.InteropServices;
using Condense.Nn;

namespace Condense.Optim;

/// <summary>Adam with L2 weight decay; see <see cref="AdamW"/> for decoupled decay.</summary>
public class Adam : Optimizer
{
    private readonly float[]?[] _m, _v;
    private readonly int[] _steps;

    /// <summary>Creates the optimizer.</summary>
    public Adam(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f) : base(parameters, learningRate)
    {
        if (beta1 is < 0f or >= 1f || beta2 is < 0f or >= 1f) throw new CondenseException("Adam betas must be in [0, 1)");
        if (weightDecay < 0f) throw new CondenseException("weight decay must not be negative");
        if (!(epsilon > 0f)) throw new CondenseException($"Adam epsilon must be positive, got {epsilon}");
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay;
        _m = new float[]?[Params.Count]; _v = new float[]?[Params.Count]; _steps = new int[Params.Count];
    }

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; }
    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; }
    /// <summary>Added to the denominator for stability.</summary>
    public float Epsilon { get; }
    /// <summary>Weight decay coefficient.</summary>
    public float WeightDecay { get; }

    /// <summary>True for AdamW's decoupled weight decay.</summary>
    protected virtual bool DecoupledDecay => false;

    /// <inheritdoc />
    protected override void BeginStep(int index, int size)
    {
        _m[index] ??= new float[size];
        _v[index] ??= new float[size];
        _steps[index]++;
    }

    /// <inheritdoc />
    protected override void Update(int index, Span<float> w, ReadOnlySpan<float> grad, int offset)
    {
        var m = _m[index]!.AsSpan(offset, w.Length);
        var v = _v[index]!.AsSpan(offset, w.Length);
        int t = _steps[index];
        float lr = LearningRate;
        float c1 = 1f - MathF.Pow(Beta1, t), c2 = 1f - MathF.Pow(Beta2, t);
        float stepSize = lr / c1, rootC2 = MathF.Sqrt(c2);
        float decay = DecoupledDecay ? 1f - lr * WeightDecay : 1f;
        float l2 = DecoupledDecay ? 0f : WeightDecay;
        float b1 = Beta1, b2 = Beta2, eps = Epsilon, invRootC2 = 1f / rootC2;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var wv = MemoryMarshal.Cast<float, Vector<float>>(w);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(grad);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            for (int j = 0; j < wv.Length; j++)
            {
                var g = gv[j] + new Vector<float>(l2) * wv[j];
                var mj = new Vector<float>(b1) * mv[j] + new Vector<float>(1f - b1) * g;
                var vj = new Vector<float>(b2) * vv[j] + new Vector<float>(1f - b2) * g * g;
                mv[j] = mj; vv[j] = vj;
                wv[j] = wv[j] * new Vector<float>(decay)
                    - new Vector<float>(stepSize) * mj / (Vector.SquareRoot(vj) * new Vector<float>(invRootC2) + new Vector<float>(eps));
            }
            i = wv.Length * Vector<float>.Count;
        }
        for (; i < w.Length; i++)
        {
            float g = grad[i] + l2 * w[i];
            m[i] = b1 * m[i] + (1f - b1) * g;
            v[i] = b2 * v[i] + (1f - b2) * g * g;
            w[i] = w[i] * decay - stepSize * m[i] / (MathF.Sqrt(v[i]) * invRootC2 + eps);
        }
    }

    /// <inheritdoc />
    public override IEnumerable<float[]> State(int index)
    {
        if (_m[index] is { } m) yield return m;
        if (_v[index] is { } v) yield return v;
    }
}

/// <summary>Adam with decoupled weight decay.</summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer (PyTorch's default weight decay is 0.01).</summary>
    public AdamW(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0.01f) : base(parameters, learningRate, beta1, beta2, epsilon, weightDecay) { }

    /// <inheritdoc />
    protected override bool DecoupledDecay => true;
}
