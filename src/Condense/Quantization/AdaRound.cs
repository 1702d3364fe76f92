// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization", §3.3–3.4): rounding to
// nearest minimises each weight's own error, not the layer's output error. AdaRound learns for every weight whether it
// rounds down or up: W̃ = s·clamp(⌊W/s⌋ + h(V), qmin, qmax), with the rectified sigmoid h(V) = clamp(σ(V)(ζ − γ) + γ, 0, 1),
// ζ = 1.1, γ = −0.1 (eq. 23), minimising the local loss (eq. 25, the layer's output on its float inputs x)
//   ‖W x − W̃ x‖²_F + λ Σ (1 − |2h(V) − 1|^β),
// here averaged over rows x of a sampled batch and summed over outputs, as the reference implementation does. β is annealed
// linearly from 20 to 2 after a warm-up (20 % of the iterations) without the regulariser, λ = 0.01, Adam at lr 10⁻³.
// V starts where h(V) is the fractional part of W/s (W̃ = W); the regulariser drives each h to 0 or 1, and the codes are
// ⌊W/s⌋ + [h(V) ≥ ½], i.e. +[V ≥ 0]. The gradient is written out: with Δ = W̃ − W and E = X Δᵀ over a batch of B rows,
//   ∂rec/∂Δ = (2/B)·Eᵀ X,  ∂Δ/∂h = s (0 where clamped to the range),  ∂reg/∂h = −2β·|2h − 1|^(β−1)·sign(2h − 1),
//   ∂h/∂V = (ζ − γ)·σ(V)(1 − σ(V)) where 0 < σ(V)(ζ − γ) + γ < 1, else 0  (AdaRound.Layer.cs).
using Condense.Autograd;
using Condense.Nn;
using Condense.Optim;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>Settings of AdaRound's per-layer optimisation (the paper's values by default).</summary>
public sealed record AdaRoundOptions
{
    /// <summary>
    /// Adam steps per layer. 500 by default: on ResNet-18's convs the held-out reconstruction error falls by half to most of
    /// what 1,000 or 2,000 steps reach (the paper runs 10,000 on a GPU).
    /// </summary>
    public int Iterations { get; init; } = 500;
    /// <summary>Input rows per step, drawn from the layer's sample (all of them when the sample is smaller).</summary>
    public int BatchRows { get; init; } = 256;
    /// <summary>How many input rows (or conv patches) the quantizer samples per layer.</summary>
    public int SampleRows { get; init; } = 2048;
    /// <summary>Weight λ of the rounding regulariser.</summary>
    public double Lambda { get; init; } = 0.01;
    /// <summary>Adam's learning rate on V.</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>The share of the iterations run before the regulariser starts.</summary>
    public double WarmUp { get; init; } = 0.2;
    /// <summary>Seed of the batch draws.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws a one-line error for out-of-range settings.</summary>
    public AdaRoundOptions Validate()
    {
        if (Iterations < 1 || BatchRows < 1 || SampleRows < 1)
            throw new CondenseException($"AdaRound needs positive iterations, batch rows and sample rows, got {Iterations}, {BatchRows}, {SampleRows}");
        if (!(Lambda >= 0) || !(LearningRate > 0) || !(WarmUp >= 0 && WarmUp < 1))
            throw new CondenseException($"AdaRound needs λ ≥ 0, a positive learning rate and a warm-up in [0, 1), got {Lambda}, {LearningRate}, {WarmUp}");
        return this;
    }
}

/// <summary>
/// AdaRound's codes for one weight: the integers (float-held, the weight's shape as given), the objective at every iteration,
/// and the reconstruction error ‖(W̃ − W) x‖² per row of the sample with these codes and with round-to-nearest's.
/// </summary>
public sealed record AdaRoundResult(Tensor Codes, IReadOnlyList<double> Objective, double Error, double RoundToNearestError);

/// <summary>Adaptive rounding of a weight against samples of its layer's inputs.</summary>
public static partial class AdaRound
{
    private const float Zeta = 1.1f, Gamma = -0.1f;
    private const double BetaStart = 20, BetaEnd = 2;

    /// <summary>
    /// The codes for <paramref name="weight"/> [rows, cols] (the Linear layout: row r an output, scaled by
    /// <paramref name="scales"/>[r]) that AdaRound chooses on the input rows <paramref name="inputs"/> [n, cols].
    /// Every code is ⌊W/s⌋ or ⌊W/s⌋ + 1, clamped to <paramref name="range"/>.
    /// </summary>
    public static AdaRoundResult Round(Tensor weight, IReadOnlyList<float> scales, QuantRange range, Tensor inputs, AdaRoundOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(inputs);
        options = (options ?? new AdaRoundOptions()).Validate();
        if (weight.Rank != 2 || inputs.Rank != 2 || inputs.Shape[1] != weight.Shape[1] || scales.Count != weight.Shape[0])
            throw new CondenseException(
                $"AdaRound: weight {Shape.Format(weight.Shape)}, {scales.Count} scales, inputs {Shape.Format(inputs.Shape)} do not match");
        using var _ = GradMode.NoGrad();
        var layer = new Layer(weight, scales, range);
        var v = new Parameter(layer.InitialV(), weight.Shape);
        var adam = new Adam([v], options.LearningRate);
        var rng = new Rng(options.Seed);
        int warmUp = (int)(options.WarmUp * options.Iterations), n = inputs.Shape[0], batch = Math.Min(options.BatchRows, n);
        var rows = batch == n ? inputs : Tensor.Zeros(batch, weight.Shape[1]);
        var objective = new double[options.Iterations];
        for (int t = 0; t < options.Iterations; t++)
        {
            if (batch < n) Draw(inputs, rows, rng);
            // β falls linearly from 20 at the end of the warm-up to 2 at the last iteration; no regulariser before.
            double beta = t < warmUp ? 0 : BetaEnd + (BetaStart - BetaEnd) * (1 - (double)(t - warmUp) / Math.Max(1, options.Iterations - 1 - warmUp));
            var (loss, gradient) = layer.Step(v.Data, rows, beta, options.Lambda);
            objective[t] = loss;
            v.Grad = gradient;
            adam.Step();
        }
        var codes = layer.Codes(v.Data);
        return new AdaRoundResult(codes, objective, layer.Error(layer.Dequantize(codes.Data), inputs),
            layer.Error(layer.Dequantize(layer.RoundToNearest()), inputs));
    }

    // A batch of rows drawn uniformly (with replacement) from the sample.
    private static void Draw(Tensor inputs, Tensor rows, Rng rng)
    {
        int n = inputs.Shape[0], cols = inputs.Shape[1];
        for (int r = 0; r < rows.Shape[0]; r++) Array.Copy(inputs.Data, rng.NextInt(n) * cols, rows.Data, r * cols, cols);
    }
}
