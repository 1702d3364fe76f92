// Distillation of a text encoder on unlabelled passages: the student learns the teacher's sentence embeddings (and,
// when asked, the hidden states and attention maps of mapped layers). The teacher's embeddings are computed once and
// cached, since text inputs do not change between epochs, and so are the hidden states of mapped layers while they fit
// TextDistillOptions.TeacherCacheBytes (TeacherStates, half precision); attention maps are too large to keep, so the
// teacher runs on each batch when the attention term is on. Batches hold passages of similar length (sorted by token
// count, then cut into batches, whose order is shuffled each epoch with the seed), so little of each step is padding.
// A pruned student's masks hold: gradients and weights are masked around every step. A causal language model (a GPT-style
// decoder) learns its teacher's next-token distributions at every token instead of an embedding (EmbeddingLosses.NextToken),
// with the teacher run on each batch: its logits over the vocabulary are too large to cache.
// Tried and not kept: new inputs each epoch made from the passages (spans, 10 % of tokens deleted and 10 % replaced by
// corpus tokens, a second passage appended; EDA/TinyBERT-style), labelled by the teacher on the fly. 3 layers of
// all-MiniLM-L6-v2 on 2,000 passages × 2 epochs: fortunes cosine 0.8286 with it, 0.8304 without; it narrowed the gap
// between seen and unseen corpus passages from the wrong side (seen 0.92 → 0.88, unseen 0.856 → 0.852). Also not kept:
// freezing the embedding tables (11.7 M of the student's 17.4 M parameters, a way to memorise passages by their rare
// tokens): same 2,000 passages × 2 epochs, hidden weight 1, fortunes 0.8284 frozen against 0.8304 trained. The attention
// term (weight 1) on that run: 0.8326, for 33 % more time (the teacher runs on every batch).
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Distributed;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Optim;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>One epoch of text distillation.</summary>
public sealed record TextDistillEpoch(int Epoch, double Loss, float LastLearningRate, double Seconds);

/// <summary>Distils a text encoder into a student on unlabelled passages.</summary>
public static class TextDistiller
{
    /// <summary>
    /// Trains <paramref name="student"/> in place on <paramref name="passages"/> to reproduce <paramref name="teacher"/>; the
    /// pruning <paramref name="masks"/>, if any, are held. Progress reports each step.
    /// </summary>
    public static IReadOnlyList<TextDistillEpoch> Distill(GraphModule student, GraphModule teacher, TextTokenizer tokenizer,
        IReadOnlyList<string> passages, TextDistillOptions options, MaskSet? masks = null, IProgress<TrainProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        if (passages.Count == 0) throw new CondenseException("there are no passages to distil on");
        teacher.Eval();
        var embedding = new EmbeddingOptions(options.MaxLength, options.BatchSize, options.Pooling, Normalize: false);
        var world = World.Current;
        DataParallel.CheckModel(teacher, "teacher", world);
        DataParallel.CheckModel(student, "student", world);
        // A causal language model is fitted by its next-token distributions, which are too large to cache: the teacher runs per batch.
        string? logits = options.EmbeddingWeight > 0 ? LanguageModelEvaluation.LogitsOutput(teacher, tokenizer) : null;
        if (logits is not null && !student.Graph.Outputs.Any(o => o.Name == logits))
            throw new CondenseException($"the teacher is a language model whose output '{logits}' the student does not have");
        var cached = options.EmbeddingWeight > 0 && logits is null
            ? TeacherEmbeddings(new SentenceEmbedder(teacher, tokenizer, embedding), passages, world, cancellation) : null;
        var mapping = options.HiddenWeight > 0 || options.AttentionWeight > 0 ? LayerMapping.Between(student, teacher) : [];
        // A student that pools itself (its teacher's sentence_embedding output) is compared as it is.
        var pooling = SentenceEmbedder.PoolingFor(student.Graph, options.Pooling);
        string output = SentenceEmbedder.OutputOf(student.Graph, pooling);
        var inputs = TextFeeds.Inputs(student.Graph);
        var teacherInputs = TextFeeds.Inputs(teacher.Graph);
        // Each passage is tokenized once; every epoch batches the same ids.
        var encoded = passages.Select(p => tokenizer.Encode(p, options.MaxLength)).ToArray();
        var batches = Buckets(encoded, options.BatchSize);
        int totalSteps = options.Epochs * batches.Count, warmup = (int)Math.Ceiling(options.WarmupFraction * totalSteps);
        // The hidden-state targets are cached when the attention term (whose maps are too large to keep) is off.
        var teacherStates = options.HiddenWeight > 0 && options.AttentionWeight == 0 && logits is null
            ? TeacherStates.TryCompute(teacher, tokenizer, encoded, [.. mapping.Select(p => p.TeacherOutput)], batches, options.TeacherCacheBytes,
                cancellation)
            : null;
        var projections = options.HiddenWeight > 0 ? Projections(student, teacher, mapping, tokenizer.Batch([passages[0]], options.MaxLength), options.Seed)
            : [];
        var optimizer = new AdamW([.. student.Parameters(), .. projections.Values.SelectMany(p => p.Parameters())], options.LearningRate,
            weightDecay: options.WeightDecay);
        var schedule = new WarmupSchedule(optimizer, warmup, totalSteps, options.Decay);
        var epochs = new List<TextDistillEpoch>();
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            var order = Shuffled(batches.Count, options.Seed + (ulong)epoch);
            double lossSum = 0;
            student.Train();
            for (int b = 0; b < order.Length; b++)
            {
                cancellation.ThrowIfCancellationRequested();
                // Under mpirun each rank takes every N-th passage of the global batch: a bucket is sorted by length, so a
                // contiguous share would give the last rank the longest passages and the others a wait (measured).
                var global = batches[order[b]];
                var indices = world.IsDistributed ? global.Where((_, i) => i % world.Size == world.Rank).ToArray() : global;
                float share = (float)indices.Length / global.Length;
                Span<float> sums = [0f];
                optimizer.ZeroGrad();
                if (indices.Length > 0) sums[0] = LocalLoss(indices) * share;
                DataParallel.AllReduceGradients(optimizer.Params, share, sums, world);
                masks?.MaskGradients();
                if (options.ClipNorm > 0) GradientClipping.ClipGlobalNorm(optimizer.Params, options.ClipNorm);
                optimizer.Step();
                schedule.Step();
                masks?.Apply();
                lossSum += sums[0];
                progress?.Report(new TrainProgress(epoch + 1, options.Epochs, b + 1, order.Length, (float)(lossSum / (b + 1)), 0f));
            }
            epochs.Add(new TextDistillEpoch(epoch + 1, lossSum / order.Length, optimizer.LearningRate, clock.Elapsed.TotalSeconds));
        }
        student.Eval();
        return epochs;

        // The loss of this rank's rows (a mean over them), with its gradients accumulated. A language model's rows go in
        // slices whose logits fit TextDistillOptions.LogitBudget, each slice's loss weighted by its share of the rows.
        float LocalLoss(int[] indices)
        {
            long perRow = (long)indices.Max(i => encoded[i].Length) * tokenizer.VocabularySize;
            int rows = logits is null ? indices.Length : (int)Math.Clamp(options.LogitBudget / perRow, 1, indices.Length);
            float total = 0;
            foreach (var slice in indices.Chunk(rows)) total += SliceLoss(slice, (float)slice.Length / indices.Length);
            return total;
        }

        float SliceLoss(int[] indices, float share)
        {
            var batch = tokenizer.BatchEncoded([.. indices.Select(i => encoded[i])]);
            var feed = batch.Feed(inputs);
            var values = student.Run(feed);
            var loss = Tensor.Scalar(0f);
            Dictionary<string, Tensor>? teacherRun = null;
            Dictionary<string, Tensor> TeacherRun()
            {
                // The outputs alone unless mapped layers need the teacher's inner values.
                if (teacherRun is null)
                {
                    var teacherFeed = batch.Feed(teacherInputs);
                    using (GradMode.NoGrad()) teacherRun = mapping.Count > 0 ? teacher.Run(teacherFeed) : teacher.RunOutputs(teacherFeed);
                }
                return teacherRun;
            }
            if (logits is not null)
                loss = loss.Add(EmbeddingLosses.NextToken(values[logits], TeacherRun()[logits], batch.AttentionMask).Mul(options.EmbeddingWeight));
            if (cached is not null)
            {
                var pooled = pooling == Pooling.None ? values[output] : Pool(values[output], batch.AttentionMask, pooling);
                var target = new Tensor([.. indices.SelectMany(i => cached[i])], indices.Length, cached[0].Length);
                loss = loss.Add(EmbeddingLosses.Embedding(pooled, target, options.Loss).Mul(options.EmbeddingWeight));
            }
            if (mapping.Count > 0)
            {
                var reference = teacherStates is not null ? teacherStates.Batch(indices, batch.InputIds.Shape[1]) : TeacherRun();
                loss = loss.Add(LayerTerms(values, reference, batch.AttentionMask, mapping, projections, options));
            }
            if (share != 1f) loss = loss.Mul(share);
            loss.Backward();
            return loss.Item();
        }
    }

    // The teacher's embedding of every passage: under mpirun each rank embeds its contiguous share and the rows are
    // summed into place (zeros elsewhere), so every rank holds them all.
    private static float[][] TeacherEmbeddings(SentenceEmbedder embedder, IReadOnlyList<string> passages, Communicator world,
        CancellationToken cancellation)
    {
        if (!world.IsDistributed) return embedder.Embed(passages, null, cancellation);
        var (start, length) = world.Shard(passages.Count);
        var mine = embedder.Embed([.. passages.Skip(start).Take(length)], null, cancellation);
        int dim = mine.Length > 0 ? mine[0].Length : 0;
        float[]? rows = mine.Length > 0 ? new float[passages.Count * dim] : null;
        for (int i = 0; i < mine.Length; i++) mine[i].CopyTo(rows!, (start + i) * dim);
        (var all, dim) = world.SumRows(rows, passages.Count, dim);
        return [.. Enumerable.Range(0, passages.Count).Select(i => all.AsSpan(i * dim, dim).ToArray())];
    }

    // Student hidden states narrower than the teacher's are compared through a learned Linear per mapped layer (FitNets'
    // regressor, Romero et al. 2015; TinyBERT's W_h, Jiao et al. 2019 eq. 7), trained with the student and not exported.
    private static Dictionary<string, Linear> Projections(GraphModule student, GraphModule teacher, IReadOnlyList<LayerPair> mapping, TextBatch sample,
        ulong seed)
    {
        Dictionary<string, Tensor> ours, theirs;
        using (GradMode.NoGrad())
        {
            ours = student.Run(sample.Feed(student.Graph));
            theirs = teacher.Run(sample.Feed(teacher.Graph));
        }
        var projections = new Dictionary<string, Linear>();
        var rng = new Rng(seed ^ 0x9E37_79B9_7F4A_7C15UL);
        foreach (var pair in mapping)
        {
            int width = ours[pair.StudentOutput].Shape[^1], target = theirs[pair.TeacherOutput].Shape[^1];
            if (width != target) projections[pair.StudentOutput] = new Linear(width, target, rng: rng);
        }
        return projections;
    }

    // The hidden-state and attention terms of the mapped layers, against the teacher run on the same batch.
    private static Tensor LayerTerms(Dictionary<string, Tensor> values, Dictionary<string, Tensor> reference, Tensor mask,
        IReadOnlyList<LayerPair> mapping, Dictionary<string, Linear> projections, TextDistillOptions options)
    {
        var loss = Tensor.Scalar(0f);
        foreach (var pair in mapping)
        {
            if (options.HiddenWeight > 0)
            {
                var hidden = values[pair.StudentOutput];
                if (projections.TryGetValue(pair.StudentOutput, out var projection))
                    hidden = projection.Forward(hidden.Reshape(-1, hidden.Shape[^1])).Reshape(hidden.Shape[0], hidden.Shape[1], -1);
                loss = loss.Add(EmbeddingLosses.Hidden(hidden, reference[pair.TeacherOutput], mask).Mul(options.HiddenWeight / mapping.Count));
            }
            if (options.AttentionWeight > 0)
                loss = loss.Add(EmbeddingLosses.Attention(values[pair.StudentScores], reference[pair.TeacherProbabilities], mask)
                    .Mul(options.AttentionWeight / mapping.Count));
        }
        return loss;
    }

    private static Tensor Pool(Tensor states, Tensor mask, Pooling pooling)
    {
        if (pooling == Pooling.Mean) return EmbeddingLosses.MeanPool(states, mask);
        // CLS: the first token's state.
        int batch = states.Shape[0], tokens = states.Shape[1], dim = states.Shape[2];
        return states.Take([.. Enumerable.Range(0, batch * dim).Select(i => i / dim * tokens * dim + i % dim)], [batch, dim]);
    }

    // Passages sorted by token count (stable), cut into batches of similar length.
    private static List<int[]> Buckets(long[][] encoded, int batchSize) =>
        [.. Enumerable.Range(0, encoded.Length).OrderBy(i => encoded[i].Length).ThenBy(i => i).Chunk(batchSize)];

    private static int[] Shuffled(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
