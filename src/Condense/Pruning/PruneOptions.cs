// The options of a pruning pass, validated once. Each method only decides which weights to zero
// (a mask); holding the mask during fine-tuning and saving the result are shared by all methods.
namespace Condense.Pruning;

/// <summary>How weights are chosen for removal.</summary>
public enum PruneMethod
{
    /// <summary>The classic rule: w = 0 where |w| &lt; threshold.</summary>
    Threshold,
    /// <summary>The smallest |w| up to a target sparsity (L1 magnitude), per tensor or globally.</summary>
    Magnitude,
    /// <summary>Random weights at the target sparsity: the baseline that shows magnitude matters.</summary>
    Random,
    /// <summary>N:M semi-structured: in every group of M consecutive input weights keep the N largest.</summary>
    NM,
}

/// <summary>What ranks the weights of magnitude and N:M pruning.</summary>
public enum PruneScore
{
    /// <summary>|w| alone.</summary>
    Magnitude,
    /// <summary>
    /// Wanda (Sun et al. 2023): |w_ij| · ‖X_j‖₂ over the calibration rows of the layer's input, compared within each output
    /// neuron. Needs calibration data; MatMul/Gemm weights only.
    /// </summary>
    Wanda,
    /// <summary>
    /// SparseGPT (Frantar &amp; Alistarh 2023): the mask chosen by w² / [H⁻¹]_cc and the kept weights updated to reconstruct the
    /// layer's output on the calibration data (H = 2XXᵀ). Needs calibration data; MatMul/Gemm weights only.
    /// </summary>
    SparseGpt,
}

/// <summary>The norm that ranks whole neurons in structured pruning.</summary>
public enum NeuronNorm { L1, L2 }

/// <summary>Options of unstructured and semi-structured pruning.</summary>
public sealed record PruneOptions
{
    /// <summary>The method.</summary>
    public PruneMethod Method { get; init; } = PruneMethod.Magnitude;
    /// <summary>For magnitude and N:M pruning: what ranks the weights (calibration-driven scores prune per output neuron).</summary>
    public PruneScore Score { get; init; } = PruneScore.Magnitude;
    /// <summary>For <see cref="PruneMethod.Threshold"/>: weights with |w| below it become zero.</summary>
    public float Threshold { get; init; }
    /// <summary>For magnitude and random pruning: the fraction of weights to zero (0–1).</summary>
    public double Sparsity { get; init; } = 0.5;
    /// <summary>Rank all chosen tensors together (one threshold) instead of each tensor alone.</summary>
    public bool Global { get; init; }
    /// <summary>For N:M: weights kept per group.</summary>
    public int N { get; init; } = 2;
    /// <summary>For N:M: group size.</summary>
    public int M { get; init; } = 4;
    /// <summary>Name patterns of tensors to prune ('*' and '?' wildcards); empty means every weight.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];
    /// <summary>Name patterns of tensors to leave alone.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];
    /// <summary>Also prune biases (off by default, as in the literature).</summary>
    public bool IncludeBiases { get; init; }
    /// <summary>Per-tensor sparsities overriding <see cref="Sparsity"/> (e.g. chosen by sensitivity analysis).</summary>
    public IReadOnlyDictionary<string, double>? PerTensorSparsity { get; init; }
    /// <summary>
    /// For unstructured magnitude, Wanda and SparseGPT pruning: one sparsity for all tensors, or per-tensor sparsities chosen by
    /// measuring each tensor pruned alone (<see cref="SensitivityAllocation"/>; needs calibration data) with <see cref="Sparsity"/>
    /// as the overall budget.
    /// </summary>
    public SparsityAllocation Allocation { get; init; } = SparsityAllocation.Uniform;
    /// <summary>For <see cref="SparsityAllocation.Sensitivity"/>: the calibration batches each measurement runs (the first ones).</summary>
    public int SensitivitySamples { get; init; } = DefaultSensitivitySamples;
    /// <summary>The default of <see cref="SensitivitySamples"/>.</summary>
    public const int DefaultSensitivitySamples = 32;
    /// <summary>Seed of random pruning.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws a one-line error for out-of-range options.</summary>
    public PruneOptions Validate()
    {
        if (Method == PruneMethod.Threshold && !(Threshold >= 0f && float.IsFinite(Threshold)))
            throw new CondenseException($"threshold must be a non-negative number, got {Threshold}");
        if (Method is PruneMethod.Magnitude or PruneMethod.Random && !(Sparsity >= 0 && Sparsity <= 1))
            throw new CondenseException($"sparsity must be in [0, 1], got {Sparsity}");
        if (Method == PruneMethod.NM && (N < 0 || M <= 0 || N > M))
            throw new CondenseException($"N:M pattern needs 0 ≤ N ≤ M and M > 0, got {N}:{M}");
        if (Method is PruneMethod.NM or PruneMethod.Threshold && Global)
            throw new CondenseException($"global ranking applies to magnitude and random pruning, not {Method}");
        if (Score != PruneScore.Magnitude)
        {
            string score = ScoreName(Score);
            if (Method is not (PruneMethod.Magnitude or PruneMethod.NM))
                throw new CondenseException($"{score} scores apply to magnitude and N:M pruning, not {Method}");
            if (Global) throw new CondenseException($"{score} compares weights within each output neuron: global ranking does not apply");
            if (IncludeBiases) throw new CondenseException($"{score} scores weights only: biases cannot be included");
        }
        if (Allocation == SparsityAllocation.Sensitivity)
        {
            if (Method != PruneMethod.Magnitude || Global)
            {
                string other = Global ? "a global ranking" : Method.ToString();
                throw new CondenseException($"sensitivity allocation spreads an unstructured sparsity per tensor, not {other}");
            }
            if (PerTensorSparsity is not null) throw new CondenseException("sensitivity allocation chooses the per-tensor sparsities: give none");
            if (SensitivitySamples < 1) throw new CondenseException($"sensitivity samples must be at least 1, got {SensitivitySamples}");
            if (Sparsity > SensitivityAllocation.MaxSparsity)
                throw new CondenseException($"sensitivity allocation gives no tensor more than {SensitivityAllocation.MaxSparsity:P0}: "
                    + $"a sparsity of {Sparsity:P0} is out of its reach");
        }
        if (PerTensorSparsity is not null)
            foreach (var (name, s) in PerTensorSparsity)
                if (!(s >= 0 && s <= 1)) throw new CondenseException($"sparsity for {name} must be in [0, 1], got {s}");
        return this;
    }

    /// <summary>The score's name as the papers write it (for messages).</summary>
    internal static string ScoreName(PruneScore score) => score switch
    {
        PruneScore.SparseGpt => "SparseGPT",
        _ => score.ToString(),
    };
}
