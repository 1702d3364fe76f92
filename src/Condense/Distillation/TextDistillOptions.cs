// The recipe of distilling a text encoder on unlabelled passages. Defaults follow the fine-tuning recipes of BERT-family
// encoders (Devlin et al. 2019; sentence-transformers' distillation examples): AdamW with weight decay 0.01, linear
// warm-up over the first 10 % of the steps then linear decay to zero, gradients clipped at norm 1, batches of 32
// passages of similar length. The peak rate is 5e-4: a 3-layer (0, 2, 4) all-MiniLM-L6-v2 student after 20 steps on
// corpus.txt reached cosine 0.544 to its teacher at 1e-4, 0.582 at 5e-4 and 0.559 at 1e-3.
using Condense.Inference;
using Condense.Optim;

namespace Condense.Distillation;

/// <summary>Options of <see cref="TextDistiller"/>.</summary>
public sealed record TextDistillOptions
{
    /// <summary>How the sentence embeddings are compared.</summary>
    public EmbeddingLoss Loss { get; init; } = EmbeddingLoss.Cosine;
    /// <summary>Weight of the embedding term.</summary>
    public float EmbeddingWeight { get; init; } = 1f;
    /// <summary>Weight of the hidden-state term over mapped layers (0: off; then the teacher runs on every batch).</summary>
    public float HiddenWeight { get; init; }
    /// <summary>Weight of the attention-distribution term over mapped layers (0: off; then the teacher runs on every batch).</summary>
    public float AttentionWeight { get; init; }
    /// <summary>Passes over the passages.</summary>
    public int Epochs { get; init; } = 3;
    /// <summary>Passages per step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>The peak learning rate.</summary>
    public float LearningRate { get; init; } = 5e-4f;
    /// <summary>AdamW's decoupled weight decay.</summary>
    public float WeightDecay { get; init; } = 0.01f;
    /// <summary>Share of the steps spent warming the rate up linearly from zero.</summary>
    public double WarmupFraction { get; init; } = 0.1;
    /// <summary>The decay after warm-up.</summary>
    public DecayKind Decay { get; init; } = DecayKind.Linear;
    /// <summary>Largest global gradient norm (0: no clipping).</summary>
    public float ClipNorm { get; init; } = 1f;
    /// <summary>Tokens per passage, [CLS] and [SEP] included.</summary>
    public int MaxLength { get; init; } = 128;
    /// <summary>How token states become a sentence embedding (mean or CLS).</summary>
    public Pooling Pooling { get; init; } = Pooling.Mean;
    /// <summary>
    /// Most memory for the teacher's hidden states of the mapped layers, computed once in half precision (0: run the teacher
    /// on every batch instead). Over it, the teacher runs on every batch.
    /// </summary>
    public long TeacherCacheBytes { get; init; } = 4L << 30;
    /// <summary>
    /// Most next-token logits (passages × tokens × vocabulary) a language model's step holds at once: a larger batch is
    /// run in slices of passages whose gradients add up (64 Mi floats, 256 MB: GPT-2's 32 × 128 × 50,257 logits are 823 MB
    /// a tensor, and the backward pass holds several).
    /// </summary>
    public long LogitBudget { get; init; } = 64L << 20;
    /// <summary>Seed of the batch order.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws a one-line error for out-of-range options.</summary>
    public TextDistillOptions Validate()
    {
        if (Epochs < 1) throw new CondenseException($"epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw new CondenseException($"batch size must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0 && float.IsFinite(LearningRate))) throw new CondenseException($"learning rate must be positive, got {LearningRate}");
        if (!(WeightDecay >= 0)) throw new CondenseException($"weight decay must not be negative, got {WeightDecay}");
        if (!(WarmupFraction >= 0 && WarmupFraction < 1)) throw new CondenseException($"warm-up share must be in [0, 1), got {WarmupFraction}");
        if (!(ClipNorm >= 0)) throw new CondenseException($"gradient clipping norm must not be negative, got {ClipNorm}");
        if (LogitBudget < 1) throw new CondenseException($"the logit budget must be positive, got {LogitBudget}");
        if (TeacherCacheBytes < 0) throw new CondenseException($"the teacher cache size must not be negative, got {TeacherCacheBytes}");
        if (MaxLength < 3) throw new CondenseException($"max length must be at least 3 ([CLS], a token, [SEP]), got {MaxLength}");
        if (Pooling == Pooling.None) throw new CondenseException("distillation pools token states: use mean or cls pooling");
        foreach (var (name, w) in new[] { ("embedding", EmbeddingWeight), ("hidden", HiddenWeight), ("attention", AttentionWeight) })
            if (!(w >= 0 && float.IsFinite(w))) throw new CondenseException($"the {name} loss weight must be a non-negative number, got {w}");
        if (EmbeddingWeight + HiddenWeight + AttentionWeight <= 0) throw new CondenseException("every loss weight is zero: nothing to learn from");
        return this;
    }
}
