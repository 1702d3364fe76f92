// A causal language model (a GPT-style decoder: logits over the vocabulary, each position reading only the tokens up to
// it) is its own labelled data: token t + 1 is the label of position t. So it is measured as language models are, by
// perplexity exp(−(1/N) Σ log p(x_{t+1} | x_≤t)) over every predicted token of the passages (Jelinek et al. 1977), and
// against its original by how often both predict the same next token and by KL(original ‖ model) of the next-token
// distributions (the figures llm-compressor and Neural Compressor report beside perplexity). Whether a model is causal
// is measured, not guessed from names: a passage and the same passage with its last token changed must give the same
// logits everywhere before that token (a BERT masked-LM head over the same vocabulary does not).
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>
/// Figures of a causal language model on passages. JSON names are the CLI's documented keys.
/// </summary>
/// <param name="Tokens">Predicted tokens counted (each passage's tokens after its first).</param>
/// <param name="Perplexity">exp of the mean negative log-likelihood of the next token.</param>
/// <param name="ReferencePerplexity">The reference's perplexity on the same tokens, or null without a reference.</param>
/// <param name="NextTokenAgreement">Share of positions where the model's most likely next token is the reference's, or null.</param>
/// <param name="KlToReference">Mean KL(reference ‖ model) of the next-token distributions in nats, or null.</param>
public sealed record LanguageModelMetrics(long Tokens, double Perplexity, double? ReferencePerplexity, double? NextTokenAgreement,
    double? KlToReference);

/// <summary>Measures causal language models.</summary>
public static class LanguageModelEvaluation
{
    /// <summary>Logits held at once: batch × tokens × vocabulary floats (256 MB), so GPT-2's 50,257-word logits fit.</summary>
    internal const long MaxLogits = 64L << 20;

    /// <summary>
    /// The output of <paramref name="model"/> that holds next-token logits when it is a causal language model over
    /// <paramref name="tokenizer"/>'s vocabulary (logits, else the first rank-3 output as wide as the vocabulary, and
    /// causal when measured), else null.
    /// </summary>
    public static string? LogitsOutput(GraphModule model, TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        return LogitsOf(Runner(model), tokenizer);
    }

    // What runs the model: compiled as embedding and inference run it, in evaluation mode.
    private static GraphModule Runner(GraphModule model)
    {
        var runner = InferenceEngine.GraphRunner(model);
        runner.Eval();
        return runner;
    }

    private static string? LogitsOf(GraphModule runner, TextTokenizer tokenizer)
    {
        // Four tokens of ordinary text, then the same with the last token changed.
        var ids = tokenizer.Encode("the first of these words", 64);
        if (ids.Length < 3) return null;
        var changed = (long[])ids.Clone();
        changed[^1] = (changed[^1] + 1) % tokenizer.VocabularySize;
        var batch = tokenizer.BatchEncoded([ids, changed]);
        Dictionary<string, Tensor> outputs;
        try
        {
            using (GradMode.NoGrad()) outputs = runner.RunOutputs(batch.Feed(runner.Graph));
        }
        catch (CondenseException) { return null; }
        var candidates = outputs.Where(o => o.Value.Rank == 3 && o.Value.Shape[1] == ids.Length && o.Value.Shape[2] >= tokenizer.VocabularySize
            && o.Value.DataType == DataType.Float32).OrderBy(o => o.Key == "logits" ? 0 : 1).ToList();
        if (candidates.Count == 0) return null;
        var (name, logits) = candidates[0];
        // Within 0.1 % of the largest logit: a model whose activations are quantized per tensor may move every position a
        // little when one token changes; a bidirectional encoder moves them by far more (6 % on the encoder fixtures).
        int width = logits.Shape[2], before = (ids.Length - 1) * width;
        var data = logits.Data;
        float scale = Math.Max(1f, data.AsSpan(0, before).ToArray().Max(Math.Abs));
        for (int i = 0; i < before; i++)
            if (Math.Abs(data[i] - data[ids.Length * width + i]) > 1e-3f * scale) return null;
        return name;
    }

    /// <summary>
    /// Perplexity of <paramref name="model"/> on <paramref name="passages"/> (truncated to <paramref name="maxLength"/> tokens),
    /// and, with a <paramref name="reference"/>, its perplexity and the agreement and KL divergence of the two models'
    /// next-token predictions. Null when the model is not a causal language model over the tokenizer's vocabulary.
    /// </summary>
    public static LanguageModelMetrics? Measure(GraphModule model, GraphModule? reference, TextTokenizer tokenizer, IReadOnlyList<string> passages,
        int maxLength, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(passages);
        var runner = Runner(model);
        string? output = LogitsOf(runner, tokenizer);
        if (output is null) return null;
        var referenceRunner = reference is null ? null : Runner(reference);
        string? referenceOutput = referenceRunner is null ? null : LogitsOf(referenceRunner, tokenizer)
            ?? throw new CondenseException("the reference is not a causal language model over the same vocabulary");
        var encoded = passages.Select(p => tokenizer.Encode(p, maxLength)).ToArray();
        var order = Enumerable.Range(0, encoded.Length).OrderBy(i => encoded[i].Length).ThenBy(i => i).ToArray();
        var sums = new Sums();
        int batchSize = (int)Math.Clamp(MaxLogits / ((long)maxLength * tokenizer.VocabularySize), 1, 32), done = 0;
        foreach (var chunk in SentenceEmbedder.LengthBatches([.. order.Select(i => encoded[i].Length)], batchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            var rows = order.AsSpan(chunk.Start, chunk.Count).ToArray().Select(i => encoded[i]).ToList();
            var batch = tokenizer.BatchEncoded(rows);
            Tensor logits, referenceLogits = null!;
            using (GradMode.NoGrad())
            {
                logits = runner.RunOutputs(batch.Feed(runner.Graph))[output];
                if (referenceRunner is not null) referenceLogits = referenceRunner.RunOutputs(batch.Feed(referenceRunner.Graph))[referenceOutput!];
            }
            Accumulate(rows, logits, referenceRunner is null ? null : referenceLogits, sums);
            done += rows.Count;
            progress?.Report(done);
        }
        if (sums.Tokens == 0) throw new CondenseException("the passages hold no token to predict: each needs at least two tokens");
        double Perplexity(double nll) => Math.Exp(nll / sums.Tokens);
        return reference is null
            ? new LanguageModelMetrics(sums.Tokens, Perplexity(sums.Nll), null, null, null)
            : new LanguageModelMetrics(sums.Tokens, Perplexity(sums.Nll), Perplexity(sums.ReferenceNll), (double)sums.Agreements / sums.Tokens,
                sums.Kl / sums.Tokens);
    }

    private sealed class Sums
    {
        public long Tokens, Agreements;
        public double Nll, ReferenceNll, Kl;
    }

    // Each row's positions 0 … n − 2 predict tokens 1 … n − 1 (padding after them is never read).
    private static void Accumulate(List<long[]> rows, Tensor logits, Tensor? reference, Sums sums)
    {
        int tokens = logits.Shape[1], width = logits.Shape[2];
        var ours = new double[width];
        var theirs = new double[width];
        for (int b = 0; b < rows.Count; b++)
            for (int t = 0; t + 1 < rows[b].Length; t++)
            {
                int target = (int)rows[b][t + 1], at = (b * tokens + t) * width;
                int best = LogSoftmax(logits.Data.AsSpan(at, width), ours);
                sums.Tokens++;
                sums.Nll -= ours[target];
                if (reference is null) continue;
                int referenceBest = LogSoftmax(reference.Data.AsSpan(at, width), theirs);
                sums.ReferenceNll -= theirs[target];
                if (best == referenceBest) sums.Agreements++;
                double kl = 0;
                for (int v = 0; v < width; v++) kl += Math.Exp(theirs[v]) * (theirs[v] - ours[v]);
                sums.Kl += kl;
            }
    }

    // log softmax in double, written into logProbabilities; returns the arg max.
    private static int LogSoftmax(ReadOnlySpan<float> logits, double[] logProbabilities)
    {
        int best = 0;
        for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[best]) best = v;
        double max = logits[best], sum = 0;
        for (int v = 0; v < logits.Length; v++) sum += Math.Exp(logits[v] - max);
        double log = max + Math.Log(sum);
        for (int v = 0; v < logits.Length; v++) logProbabilities[v] = logits[v] - log;
        return best;
    }
}
