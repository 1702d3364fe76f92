// Perplexity and next-token fidelity of causal language models: PyTorch's perplexity of the decoder it exported with a
// key/value cache, a naive loop over both models' logits for the agreement and KL to a reference, and causality measured
// (PyTorch-exported decoder: causal; a bidirectional encoder whose outputs are as wide as the vocabulary: not).
using Condense.Autograd;
using Condense.Data;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Tensors;
using Condense.Tests.Transformers;

namespace Condense.Tests.Inference;

public sealed class LanguageModelEvaluationTests
{
    [Fact]
    public void PerplexityIsPyTorchsAndAModelAgreesWithItself()
    {
        var model = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        var tokenizer = DecoderWithPastTests.Tokenizer();
        Assert.Equal("logits", LanguageModelEvaluation.LogitsOutput(model, tokenizer));
        double expected = Npy.Read(DecoderWithPastTests.Fixture("lm.perplexity.npy")).ToFloat()[0];
        var alone = LanguageModelEvaluation.Measure(model, null, tokenizer, DecoderWithPastTests.Passages, 64)!;
        Assert.Equal(22 + 11, alone.Tokens);
        Assert.Equal(1, alone.Perplexity / expected, 4);
        Assert.Null(alone.NextTokenAgreement);
        var itself = LanguageModelEvaluation.Measure(model, model, tokenizer, DecoderWithPastTests.Passages, 64)!;
        Assert.Equal(1, itself.NextTokenAgreement);
        Assert.Equal(0, itself.KlToReference!.Value, 6);
        Assert.Equal(itself.Perplexity, itself.ReferencePerplexity!.Value, 9);
    }

    [Fact]
    public void AgreementAndKlAreANaiveLoopsOverBothModelsLogits()
    {
        var reference = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        var model = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        // A perturbed copy: every weight matrix scaled by a seeded factor per value.
        var rng = new Rng(4);
        foreach (var (name, tensor) in model.Graph.Initializers.ToList())
            if (tensor.DataType == DataType.Float32 && tensor.Rank == 2)
                model.Graph.Initializers[name] = new Tensor([.. tensor.Data.Select(v => v * (1 + 0.3f * (rng.NextFloat() - 0.5f)))], tensor.Shape);
        var tokenizer = DecoderWithPastTests.Tokenizer();
        var measured = LanguageModelEvaluation.Measure(model, reference, tokenizer, DecoderWithPastTests.Passages, 64)!;
        var batch = tokenizer.Batch(DecoderWithPastTests.Passages, 64);
        Tensor Logits(GraphModule m)
        {
            m.Eval();
            using (GradMode.NoGrad()) return m.Run(batch.Feed(m.Graph))["logits"];
        }
        var ours = Logits(model);
        var theirs = Logits(reference);
        int tokens = ours.Shape[1], width = ours.Shape[2];
        double kl = 0, nll = 0;
        int agree = 0, count = 0;
        for (int b = 0; b < 2; b++)
            for (int t = 0; t + 1 < tokens && batch.AttentionMask.Int64Data[b * tokens + t + 1] == 1; t++)
            {
                var p = Softmax(theirs.Data.AsSpan((b * tokens + t) * width, width));
                var q = Softmax(ours.Data.AsSpan((b * tokens + t) * width, width));
                for (int v = 0; v < width; v++) kl += p[v] * Math.Log(p[v] / q[v]);
                nll -= Math.Log(q[(int)batch.InputIds.Int64Data[b * tokens + t + 1]]);
                if (Array.IndexOf(p, p.Max()) == Array.IndexOf(q, q.Max())) agree++;
                count++;
            }
        Assert.Equal(count, measured.Tokens);
        Assert.Equal((double)agree / count, measured.NextTokenAgreement);
        Assert.True(measured.NextTokenAgreement < 1);
        Assert.Equal(kl / count, measured.KlToReference!.Value, 4);
        Assert.Equal(Math.Exp(nll / count), measured.Perplexity, 1e-4 * measured.Perplexity);
    }

    [Fact]
    public void OnlyCausalModelsAreLanguageModels()
    {
        // Both fixtures have outputs at least as wide as a 16-token vocabulary; only the decoder reads no later token.
        var words = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "first", "of", "these", "words", "a", "b", "c", "d", "e", "f" };
        var tokenizer = TextTokenizer.FromText(string.Join('\n', words), "vocab.txt");
        string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);
        Assert.Equal("logits", LanguageModelEvaluation.LogitsOutput(ModelFile.Load(Fixture("decoder-op11.onnx")), tokenizer));
        var encoder = ModelFile.Load(Fixture("encoder-op14.onnx"));
        Assert.Null(LanguageModelEvaluation.LogitsOutput(encoder, tokenizer));
        Assert.Null(LanguageModelEvaluation.Measure(encoder, null, tokenizer, ["the first of these words"], 16));
    }

    // softmax in double, the naive oracle of the next-token figures.
    internal static double[] Softmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        var e = new double[logits.Length];
        for (int i = 0; i < e.Length; i++) e[i] = Math.Exp(logits[i] - max);
        double sum = e.Sum();
        return [.. e.Select(v => v / sum)];
    }
}
