// Distilling a causal language model: the next-token term is KL(teacher ‖ student) over the real tokens (a hand loop)
// with the gradient of finite differences, and a one-layer student cut from the PyTorch-exported decoder gets closer to
// its teacher's next-token distributions (KL and agreement measured by LanguageModelEvaluation), the same with the seed.
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Formats;
using Condense.Tensors;
using Condense.Tests.Data;
using Condense.Tests.Transformers;

namespace Condense.Tests.Distillation;

public sealed class LanguageModelDistillationTests
{
    [Fact]
    public void TheNextTokenLossIsTheKlOverRealTokensWithItsGradient()
    {
        var rng = new Rng(8);
        int batch = 2, tokens = 3, vocabulary = 5;
        var values = Enumerable.Range(0, batch * tokens * vocabulary).Select(_ => rng.NextNormal()).ToArray();
        var teacher = new Tensor([.. Enumerable.Range(0, values.Length).Select(_ => 2 * rng.NextNormal())], batch, tokens, vocabulary);
        var mask = Tensor.FromInt64s([1, 1, 0, 1, 0, 0], DataType.Int64, batch, tokens);
        double kl = 0;
        foreach (int row in new[] { 0, 1, 3 })
        {
            var p = Inference.LanguageModelEvaluationTests.Softmax(teacher.Data.AsSpan(row * vocabulary, vocabulary));
            var q = Inference.LanguageModelEvaluationTests.Softmax(values.AsSpan(row * vocabulary, vocabulary));
            for (int v = 0; v < vocabulary; v++) kl += p[v] * Math.Log(p[v] / q[v]);
        }
        Assert.Equal(kl / 3, EmbeddingLosses.NextToken(new Tensor(values, batch, tokens, vocabulary), teacher, mask).Item(), 5);
        Assert.Equal(0, EmbeddingLosses.NextToken(teacher, teacher, mask).Item(), 5);
        double LossAt(float[] v) => EmbeddingLosses.NextToken(new Tensor(v, batch, tokens, vocabulary), teacher, mask).Item();
        var logits = new Condense.Nn.Parameter(new Tensor((float[])values.Clone(), batch, tokens, vocabulary));
        EmbeddingLosses.NextToken(logits, teacher, mask).Backward();
        for (int i = 0; i < values.Length; i++)
        {
            var plus = (float[])values.Clone(); plus[i] += 1e-2f;
            var minus = (float[])values.Clone(); minus[i] -= 1e-2f;
            double numeric = (LossAt(plus) - LossAt(minus)) / 2e-2;
            Assert.True(Math.Abs(numeric - logits.Grad!.Data[i]) < 1e-3, $"element {i}: analytic {logits.Grad!.Data[i]}, numeric {numeric}");
        }
    }

    [Fact]
    public void AOneLayerDecoderGetsCloserToItsTeachersNextTokens()
    {
        var teacher = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        var tokenizer = DecoderWithPastTests.Tokenizer();
        var passages = TextPassages.Read(TestFiles.Fortunes);
        var options = new TextDistillOptions { Epochs = 3, BatchSize = 8, MaxLength = 48, LearningRate = 2e-3f, Seed = 3 };
        TextDistillReport Run() => TextDistillPipeline.Apply(teacher, tokenizer, [.. passages.Take(64)], [.. passages.Skip(400).Take(16)],
            new TextStudentOptions { Depth = 1 }, options).Report;
        var report = Run();
        Assert.NotNull(report.LanguageModelBefore);
        Assert.True(report.LanguageModelAfter!.KlToReference < 0.8 * report.LanguageModelBefore!.KlToReference,
            $"KL {report.LanguageModelBefore.KlToReference} → {report.LanguageModelAfter.KlToReference}");
        Assert.True(report.LanguageModelAfter.NextTokenAgreement > report.LanguageModelBefore.NextTokenAgreement);
        Assert.Equal(report.LanguageModelAfter, Run().LanguageModelAfter);
    }

    [Fact]
    public void ABatchRunInSlicesOfPassagesTrainsTheSameStudent()
    {
        // Passages of one token count: the mean over a batch's tokens is then the mean of its slices' means.
        var teacher = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        var tokenizer = DecoderWithPastTests.Tokenizer();
        List<string> passages = [.. TextPassages.Read(TestFiles.Fortunes).Where(p => tokenizer.Encode(p, 12).Length == 12).Take(24)];
        Assert.Equal(24, passages.Count);
        float[] Weights(long budget)
        {
            var options = new TextDistillOptions { Epochs = 1, BatchSize = 8, MaxLength = 12, Seed = 2, LogitBudget = budget };
            var (student, _) = TextDistillPipeline.Apply(teacher, tokenizer, passages, passages[..4], new TextStudentOptions { Depth = 1 }, options);
            return [.. student.Graph.Initializers.Values.Where(t => t.DataType == DataType.Float32).SelectMany(t => t.Data)];
        }
        var whole = Weights(long.MaxValue);
        // 3 passages × 12 tokens × 300 words: slices of 3 passages.
        var sliced = Weights(3 * 12 * 300);
        var cut = TextDistillPipeline.Cut(teacher, tokenizer, new TextStudentOptions { Depth = 1 }, 12).Student;
        float[] initial = [.. cut.Graph.Initializers.Values.Where(t => t.DataType == DataType.Float32).SelectMany(t => t.Data)];
        Assert.Equal(whole.Length, sliced.Length);
        Assert.Equal(whole.Length, initial.Length);
        // The slices sum the same loss in another order; Adam's normalized steps carry that rounding into the weights
        // (~1e-5 here): the two students differ by under 5 % of what training moved (1.4 % measured), where slices
        // weighted 1/3 each instead of by their share of the rows differ by 134 %.
        double moved = whole.Zip(initial).Max(p => Math.Abs(p.First - p.Second)), apart = whole.Zip(sliced).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(moved > 1e-4, $"training moved the weights by {moved}");
        Assert.True(apart < 0.05 * moved, $"whole and sliced batches differ by {apart}, training moved {moved}");
    }
}
