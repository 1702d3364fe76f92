// Sentence embeddings from a BERT-family encoder, as sentence-transformers computes them: the token states
// (last_hidden_state) averaged over the attention mask (or the [CLS] state), then L2-normalised (Reimers and Gurevych
// 2019, https://www.sbert.net). Passages run in batches sorted by length, so dynamic padding pads little, and come
// back in their own order. The model runs as InferenceEngine.Compile runs it (fused float ops, dynamic int8 engine).
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>How token states become one vector per passage.</summary>
public enum Pooling
{
    /// <summary>The mean of the token states where the attention mask is 1.</summary>
    Mean,
    /// <summary>The state of the first token ([CLS]).</summary>
    Cls,
    /// <summary>None: the model already outputs one vector per passage (a rank-2 output).</summary>
    None,
}

/// <summary>Options of <see cref="SentenceEmbedder"/>.</summary>
/// <param name="MaxLength">Tokens per passage, [CLS] and [SEP] included; longer passages are truncated.</param>
/// <param name="BatchSize">Passages per model call.</param>
/// <param name="Pooling">How token states are pooled.</param>
/// <param name="Normalize">Scale each embedding to unit length.</param>
public sealed record EmbeddingOptions(int MaxLength = 128, int BatchSize = 32, Pooling Pooling = Pooling.Mean, bool Normalize = true);

/// <summary>Embeds passages of text with an encoder model.</summary>
public sealed class SentenceEmbedder
{
    private readonly GraphModule _model;
    private readonly TextTokenizer _tokenizer;
    private readonly string _output;

    /// <summary>An embedder over <paramref name="model"/>, whose inputs are token ids, attention mask and token types.</summary>
    public SentenceEmbedder(GraphModule model, TextTokenizer tokenizer, EmbeddingOptions? options = null)
    {
        _model = model;
        _tokenizer = tokenizer;
        Options = options ?? new EmbeddingOptions();
        if (Options.BatchSize < 1) throw new CondenseException($"the batch size must be at least 1, got {Options.BatchSize}");
        Options = Options with { Pooling = PoolingFor(model.Graph, Options.Pooling) };
        _output = OutputOf(model.Graph, Options.Pooling);
    }

    /// <summary>The options in use.</summary>
    public EmbeddingOptions Options { get; }

    /// <summary>One embedding per passage, in the passages' order; <paramref name="progress"/> hears the count done.</summary>
    public float[][] Embed(IReadOnlyList<string> passages, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        int[] lengths = [.. passages.Select(p => _tokenizer.Encode(p, Options.MaxLength).Length)];
        var order = Enumerable.Range(0, passages.Count).OrderBy(i => lengths[i]).ThenBy(i => i).ToArray();
        var embeddings = new float[passages.Count][];
        // Compiled per call (the model may have changed since construction): fused float ops or the dynamic int8 engine.
        var runner = InferenceEngine.GraphRunner(_model);
        runner.Eval();
        int done = 0;
        foreach (var (start, count) in LengthBatches([.. order.Select(i => lengths[i])], Options.BatchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            var indices = order.AsSpan(start, count).ToArray();
            var batch = _tokenizer.Batch([.. indices.Select(i => passages[i])], Options.MaxLength);
            Tensor states;
            using (GradMode.NoGrad()) states = runner.RunOutputs(batch.Feed(runner.Graph))[_output];
            var pooled = Pool(states, batch.AttentionMask);
            for (int b = 0; b < indices.Length; b++) embeddings[indices[b]] = Options.Normalize ? Normalize(pooled[b]) : pooled[b];
            done += indices.Length;
            progress?.Report(done);
        }
        return embeddings;
    }

    /// <summary>
    /// Consecutive batches (start, count) of passages sorted by token count, at most <paramref name="batchSize"/> each, cut where
    /// padding every passage to its batch's longest costs least: the fewest padded tokens plus a fixed price per model call
    /// (dynamic programming over the sorted lengths). A fixed size pads a batch of short passages to the one long passage
    /// that ends it; on 32 corpus passages (11–128 tokens) one batch of 32 took twice as long as the batches cut here.
    /// </summary>
    internal static List<(int Start, int Count)> LengthBatches(IReadOnlyList<int> sortedLengths, int batchSize)
    {
        // A model call's fixed cost, in tokens it could have run instead.
        const long CallCost = 16;
        int n = sortedLengths.Count;
        var cost = new long[n + 1];
        var cut = new int[n + 1];
        for (int end = 1; end <= n; end++)
        {
            cost[end] = long.MaxValue;
            for (int start = Math.Max(0, end - batchSize); start < end; start++)
            {
                long c = cost[start] + (long)(end - start) * sortedLengths[end - 1] + CallCost;
                if (c < cost[end]) (cost[end], cut[end]) = (c, start);
            }
        }
        var batches = new List<(int, int)>();
        for (int end = n; end > 0; end = cut[end]) batches.Add((cut[end], end - cut[end]));
        batches.Reverse();
        return batches;
    }

    private float[][] Pool(Tensor states, Tensor mask)
    {
        if (states.DataType != DataType.Float32) states = TypedOps.Cast(states, DataType.Float32);
        if (Options.Pooling == Pooling.None)
        {
            if (states.Rank != 2)
                throw new CondenseException($"output '{_output}' has shape {Shape.Format(states.Shape)}; Pooling.None needs one vector per passage");
            return [.. Enumerable.Range(0, states.Shape[0]).Select(b => states.Data.AsSpan(b * states.Shape[1], states.Shape[1]).ToArray())];
        }
        if (states.Rank != 3) throw new CondenseException($"output '{_output}' has shape {Shape.Format(states.Shape)}; pooling needs [batch, tokens, dim]");
        int batch = states.Shape[0], tokens = states.Shape[1], dim = states.Shape[2];
        var data = states.Data;
        var keep = mask.Int64Data;
        var pooled = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var sum = new double[dim];
            double count = 0;
            for (int t = 0; t < (Options.Pooling == Pooling.Cls ? 1 : tokens); t++)
            {
                if (keep[b * tokens + t] == 0) continue;
                count++;
                var row = data.AsSpan((b * tokens + t) * dim, dim);
                for (int d = 0; d < dim; d++) sum[d] += row[d];
            }
            // sentence-transformers clamps the token count at 1e-9, so an all-padding row pools to zeros.
            pooled[b] = [.. sum.Select(s => (float)(s / Math.Max(count, 1e-9)))];
        }
        return pooled;
    }

    // x / max(‖x‖, 1e-12), as torch.nn.functional.normalize.
    private static float[] Normalize(float[] x)
    {
        double norm = Math.Sqrt(x.Sum(v => (double)v * v));
        return [.. x.Select(v => (float)(v / Math.Max(norm, 1e-12)))];
    }

    /// <summary>
    /// The pooling that fits <paramref name="graph"/>: <paramref name="requested"/>, except that a model which pools itself (no
    /// token-state output — last_hidden_state, token_embeddings or rank 3 — but a sentence_embedding, pooler_output or rank-2
    /// one, as sentence-transformers models exported with their pooling layer are) gets <see cref="Pooling.None"/>.
    /// </summary>
    public static Pooling PoolingFor(ModelGraph graph, Pooling requested)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (requested == Pooling.None) return requested;
        bool tokenStates = graph.Outputs.Any(o => Holds(o, Pooling.Mean)), pooled = graph.Outputs.Any(o => Holds(o, Pooling.None));
        return !tokenStates && pooled ? Pooling.None : requested;
    }

    /// <summary>
    /// The output that holds token states: last_hidden_state or token_embeddings by name, else the first output of rank 3;
    /// for <see cref="Pooling.None"/>, sentence_embedding or pooler_output, else the first output of rank 2.
    /// </summary>
    public static string OutputOf(ModelGraph graph, Pooling pooling)
    {
        var outputs = graph.Outputs;
        return outputs.FirstOrDefault(o => Names(pooling).Contains(o.Name))?.Name
            ?? outputs.FirstOrDefault(o => o.Shape?.Length == Rank(pooling))?.Name
            ?? (outputs.Count == 1 ? outputs[0].Name
                : throw new CondenseException($"no output of rank {Rank(pooling)} among {string.Join(", ", outputs.Select(o => o.Name))} to pool"));
    }

    // The outputs that hold token states (pooled here) or one vector per passage (Pooling.None): by name, or by declared rank.
    private static string[] Names(Pooling pooling) =>
        pooling == Pooling.None ? ["sentence_embedding", "pooler_output"] : ["last_hidden_state", "token_embeddings"];

    private static int Rank(Pooling pooling) => pooling == Pooling.None ? 2 : 3;

    private static bool Holds(ValueInfo output, Pooling pooling) => Names(pooling).Contains(output.Name) || output.Shape?.Length == Rank(pooling);
}
