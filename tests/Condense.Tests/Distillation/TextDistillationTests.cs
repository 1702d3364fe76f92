// Distillation of text encoders on unlabelled passages: the losses against hand computations and finite differences,
// and a 1-layer student cut from a 2-layer tiny BERT that gets closer
// to its teacher, deterministically for a seed.
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Graph;
using Condense.Tensors;
using Condense.Tests.Transformers;

namespace Condense.Tests.Distillation;

public class TextDistillationTests
{
    // A vocabulary the tiny encoder's 50-row embedding table covers: the five BERT specials and 45 words.
    private static readonly string[] Words =
    [
        "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "far", "and", "is", "was", "big", "small", "red", "blue", "sun", "moon", "day", "night",
        "sky", "sea", "tree", "bird", "sang", "song", "old", "new", "man", "woman", "child", "house", "road", "home", "went", "came", "saw", "ate",
        "fish", "bread", "water", "fire", "wind", "rain", "snow",
    ];

    internal static TextTokenizer Tokenizer() => TextTokenizer.FromText(Vocabulary(), "tiny vocabulary");

    // The tiny vocabulary as vocab.txt's text.
    internal static string Vocabulary() => string.Join("\n", new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(Words)) + "\n";

    internal static List<string> Passages(int count, ulong seed)
    {
        var rng = new Rng(seed);
        string Passage() => string.Join(" ", Enumerable.Range(0, 2 + rng.NextInt(9)).Select(_ => Words[rng.NextInt(Words.Length)]));
        return [.. Enumerable.Range(0, count).Select(_ => Passage())];
    }

    [Fact]
    public void MeanPoolingAndTheEmbeddingLossesMatchAHandComputation()
    {
        var states = new Tensor([1, 2, 3, 4, 100, 100, 5, 6, 7, 8, 9, 10], 2, 3, 2);
        var mask = Tensor.FromInt64s([1, 1, 0, 1, 1, 1], DataType.Int64, 2, 3);
        var pooled = EmbeddingLosses.MeanPool(states, mask);
        Assert.Equal(new float[] { 2, 3, 7, 8 }, pooled.Data);
        var teacher = new Tensor([2, 3, 0, 1], 2, 2);
        // Cosine: 1 − mean(1, cos((7, 8), (0, 1))).
        double expected = 1 - (1 + 8 / Math.Sqrt(49 + 64)) / 2;
        Assert.Equal(expected, EmbeddingLosses.Embedding(pooled, teacher, EmbeddingLoss.Cosine).Item(), 5);
        Assert.Equal((0 + 0 + 49 + 49) / 4.0, EmbeddingLosses.Embedding(pooled, teacher, EmbeddingLoss.Mse).Item(), 4);
        // Hidden MSE counts the kept tokens only: the masked (100, 100) row does not count.
        var zero = Tensor.Zeros(2, 3, 2);
        double kept = (1 + 4 + 9 + 16 + 25 + 36 + 49 + 64 + 81 + 100) / (5.0 * 2);
        Assert.Equal(kept, EmbeddingLosses.Hidden(states, zero, mask).Item(), 3);
    }

    [Fact]
    public void TheAttentionLossIsTheKlDivergenceOverRealQueries()
    {
        var rng = new Rng(3);
        int batch = 1, heads = 2, n = 3;
        var scores = new Tensor([.. Enumerable.Range(0, batch * heads * n * n).Select(_ => rng.NextNormal())], batch, heads, n, n);
        var teacherScores = new Tensor([.. Enumerable.Range(0, batch * heads * n * n).Select(_ => rng.NextNormal())], batch, heads, n, n);
        var teacher = teacherScores.Softmax(-1);
        var mask = Tensor.FromInt64s([1, 1, 0], DataType.Int64, 1, 3);
        double kl = 0;
        var s = scores.Softmax(-1).Data;
        for (int h = 0; h < heads; h++)
            for (int q = 0; q < 2; q++)
                for (int k = 0; k < n; k++)
                {
                    int i = (h * n + q) * n + k;
                    kl += teacher.Data[i] * Math.Log(teacher.Data[i] / s[i]);
                }
        Assert.Equal(kl / (heads * 2), EmbeddingLosses.Attention(scores, teacher, mask).Item(), 5);
        Assert.Equal(0, EmbeddingLosses.Attention(teacherScores, teacher, mask).Item(), 5);
    }

    [Fact]
    public void TheCosineLossGradientMatchesFiniteDifferences()
    {
        var rng = new Rng(5);
        var values = Enumerable.Range(0, 2 * 4 * 3).Select(_ => rng.NextNormal()).ToArray();
        var mask = Tensor.FromInt64s([1, 1, 1, 0, 1, 1, 0, 0], DataType.Int64, 2, 4);
        var teacher = new Tensor([.. Enumerable.Range(0, 6).Select(_ => rng.NextNormal())], 2, 3);
        double LossAt(float[] v) => EmbeddingLosses.Embedding(EmbeddingLosses.MeanPool(new Tensor(v, 2, 4, 3), mask), teacher, EmbeddingLoss.Cosine).Item();
        var states = new Condense.Nn.Parameter(new Tensor((float[])values.Clone(), 2, 4, 3));
        EmbeddingLosses.Embedding(EmbeddingLosses.MeanPool(states, mask), teacher, EmbeddingLoss.Cosine).Backward();
        for (int i = 0; i < values.Length; i++)
        {
            var plus = (float[])values.Clone(); plus[i] += 1e-2f;
            var minus = (float[])values.Clone(); minus[i] -= 1e-2f;
            double numeric = (LossAt(plus) - LossAt(minus)) / 2e-2;
            Assert.True(Math.Abs(numeric - states.Grad!.Data[i]) < 2e-3, $"element {i}: analytic {states.Grad!.Data[i]}, numeric {numeric}");
        }
    }

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(1f, 1f)]
    public void AOneLayerStudentGetsCloserToItsTeacherDeterministically(float hidden, float attention)
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2));
        var tokenizer = Tokenizer();
        var options = new TextDistillOptions
        {
            Epochs = 4, BatchSize = 8, LearningRate = 3e-3f, HiddenWeight = hidden, AttentionWeight = attention, MaxLength = 16, Seed = 7,
        };
        var student = new TextStudentOptions { Layers = [1] };
        var (first, report) = TextDistillPipeline.Apply(teacher, tokenizer, Passages(96, 1), Passages(24, 2), student, options);
        Assert.True(report.After.CosineMean > report.Before.CosineMean,
            $"cosine {report.Before.CosineMean:F4} before, {report.After.CosineMean:F4} after");
        Assert.True(report.Epochs[^1].Loss < report.Epochs[0].Loss);
        Assert.Equal([1], report.Layers);
        Assert.True(report.Parameters < report.TeacherParameters);
        var (second, _) = TextDistillPipeline.Apply(teacher, tokenizer, Passages(96, 1), Passages(24, 2), student, options);
        foreach (var (name, tensor) in first.Graph.Initializers) Assert.Equal(tensor.Data, second.Graph.Initializers[name].Data);
    }

    [Theory]
    [InlineData(13, 0.5, 0.5)]
    [InlineData(17, 0.5, 0.5)]
    public void AStudentWithHalfItsHeadsAndNeuronsIsSmallerAndLearns(long opset, double heads, double ffn)
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(opset, layers: 2));
        var options = new TextDistillOptions { Epochs = 3, BatchSize = 8, LearningRate = 3e-3f, MaxLength = 16, Seed = 1 };
        var student = new TextStudentOptions { HeadFraction = heads, FeedForwardFraction = ffn };
        var (model, report) = TextDistillPipeline.Apply(teacher, Tokenizer(), Passages(96, 3), Passages(24, 4), student, options);
        var layers = EncoderLayers.Find(model);
        Assert.All(layers, l => Assert.Equal(2, l.Heads));
        Assert.All(layers, l => Assert.Equal(TinyTransformer.Hidden / 2, model.Graph.Initializers[l.Projections!.FeedForwardIn.Weight].Shape[1]));
        // Per layer: 2 of 4 heads (half of Q, K, V, O: 4 · 16 · 8 weights + 3 · 8 biases) and 16 of 32 neurons (16 · 16 · 2 + 16).
        long removed = 2 * (4 * 16 * 8 + 3 * 8 + 16 * 16 * 2 + 16);
        Assert.Equal(report.TeacherParameters - removed, report.Parameters);
        Assert.True(report.After.CosineMean > report.Before.CosineMean, $"{report.Before.CosineMean:F4} → {report.After.CosineMean:F4}");
        Assert.Equal(0.5, report.HeadFraction);
    }

    [Fact]
    public void CachedTeacherStatesTrainTheStudentAsRunningTheTeacherEveryBatchDoes()
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2));
        var options = new TextDistillOptions { Epochs = 2, BatchSize = 8, LearningRate = 3e-3f, HiddenWeight = 1f, MaxLength = 16, Seed = 7 };
        var student = new TextStudentOptions { Layers = [1] };
        var (cached, cachedReport) = TextDistillPipeline.Apply(teacher, Tokenizer(), Passages(64, 1), Passages(24, 2), student, options);
        var (perBatch, perBatchReport) = TextDistillPipeline.Apply(teacher, Tokenizer(), Passages(64, 1), Passages(24, 2), student,
            options with { TeacherCacheBytes = 0 });
        // The cache holds the targets in half precision (2⁻¹¹ relative): the two runs agree closely, not bit for bit.
        Assert.Equal(perBatchReport.After.CosineMean, cachedReport.After.CosineMean, 3);
        Assert.NotEqual(perBatch.Graph.Initializers.First(i => i.Value.Rank == 2).Value.Data,
            cached.Graph.Initializers.First(i => i.Value.Rank == 2).Value.Data);
    }

    [Fact]
    public void TeacherStatesRebuildTheTeachersHiddenStatesOfABatch()
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2));
        teacher.Eval();   // as the distiller runs it: the states then come from a pass that reuses its arrays, all of them here
        teacher.PooledFrom = 1;
        var tokenizer = Tokenizer();
        var encoded = Passages(20, 3).Select(p => tokenizer.Encode(p, 16)).ToArray();
        var names = EncoderLayers.Find(teacher).Select(l => l.Output).ToList();
        int[][] batches = [[.. Enumerable.Range(0, 7)], [.. Enumerable.Range(7, 13)]];
        var states = TeacherStates.TryCompute(teacher, tokenizer, encoded, names, batches, 1L << 20, default)!;
        int[] mixed = [3, 12, 19];
        var batch = tokenizer.BatchEncoded([.. mixed.Select(i => encoded[i])]);
        Dictionary<string, Tensor> expected;
        using (Condense.Autograd.GradMode.NoGrad()) expected = teacher.Run(batch.Feed(teacher.Graph.Inputs.Select(i => i.Name)));
        var actual = states.Batch(mixed, batch.InputIds.Shape[1]);
        var mask = batch.AttentionMask.Int64Data;
        foreach (var name in names)
        {
            int width = expected[name].Shape[2];
            float scale = expected[name].Data.Max(Math.Abs);
            for (int p = 0; p < mask.Length; p++)
                for (int d = 0; d < width; d++)
                {
                    float want = mask[p] == 1 ? expected[name].Data[p * width + d] : 0f, got = actual[name].Data[p * width + d];
                    Assert.True(Math.Abs(want - got) <= scale / 1024, $"{name} position {p}: {got} vs {want}");
                }
        }
        Assert.Null(TeacherStates.TryCompute(teacher, tokenizer, encoded, names, batches, 1000, default));
    }

    [Fact]
    public void HeadsAndNeuronsChosenOnCalibrationTextKeepTheStudentCloserThanWeightNorms()
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2));
        var evaluation = Passages(24, 4);
        var reference = new Condense.Inference.SentenceEmbedder(teacher, Tokenizer()).Embed(evaluation);
        double Fidelity(TextStudentOptions student)
        {
            var (model, _) = TextDistillPipeline.Cut(teacher, Tokenizer(), student, 16);
            return Condense.Reports.Fidelity.Measure(new Condense.Inference.SentenceEmbedder(model, Tokenizer()).Embed(evaluation), reference).CosineMean;
        }
        var byNorms = new TextStudentOptions { HeadFraction = 0.5, FeedForwardFraction = 0.5 };
        double norms = Fidelity(byNorms), calibrated = Fidelity(byNorms with { Calibration = Passages(64, 5) });
        Assert.True(calibrated > norms, $"calibrated {calibrated:F4}, by weight norms {norms:F4}");
    }

    [Fact]
    public void ANarrowerStudentLearnsThroughProjectedHiddenStates()
    {
        var teacher = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2));
        var options = new TextDistillOptions { Epochs = 3, BatchSize = 8, LearningRate = 3e-3f, MaxLength = 16, Seed = 2, HiddenWeight = 1f };
        var student = new TextStudentOptions { HiddenWidth = 12 };
        var (model, report) = TextDistillPipeline.Apply(teacher, Tokenizer(), Passages(96, 5), Passages(24, 6), student, options);
        Assert.Equal(12, report.HiddenWidth);
        Assert.True(report.Parameters < report.TeacherParameters);
        var output = model.Run(EncoderLayersTests.Feed(1, 5, 1))["last_hidden_state"];
        Assert.Equal(TinyTransformer.Width, output.Shape[^1]);
        Assert.True(report.After.CosineMean > report.Before.CosineMean, $"{report.Before.CosineMean:F4} → {report.After.CosineMean:F4}");
    }
}
