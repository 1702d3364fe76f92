// The losses that fit a text student to its teacher without labels, as autograd tensor expressions:
// - the sentence embedding: mean pooling over the attention mask (sentence-transformers' pooling), then either
//   1 − cosine to the teacher's embedding or the MSE between the two (Reimers & Gurevych 2020, "Making Monolingual
//   Sentence Embeddings Multilingual using Knowledge Distillation", fit the student's embeddings by MSE);
// - hidden states of mapped layers: MSE over real tokens (TinyBERT, Jiao et al. 2019, eq. 8);
// - attention distributions of mapped layers: KL(teacher ‖ student) per head and query position over real queries
//   (MiniLM, Wang et al. 2020, eq. 5), from the student's scores through log-softmax, so masked keys stay finite;
// - a causal language model's next-token distributions: KL(teacher ‖ student) at every real token (Hinton et al. 2015 at
//   T = 1, as DistilGPT-2 and MiniLLM distil decoders), instead of an embedding the decoder does not produce.
using Condense.Tensors;

namespace Condense.Distillation;

/// <summary>How the student's sentence embedding is compared with the teacher's.</summary>
public enum EmbeddingLoss
{
    /// <summary>1 − cosine similarity, averaged over the batch: what search by cosine needs.</summary>
    Cosine,
    /// <summary>Mean squared error of the pooled embeddings (before normalisation): also fits their length.</summary>
    Mse,
}

/// <summary>Distillation losses of text encoders.</summary>
public static class EmbeddingLosses
{
    /// <summary>
    /// Mean of the token states [batch, tokens, dim] over the tokens whose <paramref name="mask"/> [batch, tokens] is
    /// non-zero, with the gradient: [batch, dim]. A passage with no token pools to zeros.
    /// </summary>
    public static Tensor MeanPool(Tensor states, Tensor mask)
    {
        if (states.Rank != 3) throw new CondenseException($"mean pooling needs [batch, tokens, dim] states, got {Shape.Format(states.Shape)}");
        var weights = MaskWeights(mask, states.Shape[0], states.Shape[1]);
        var counts = weights.Sum(1).Data.Select(c => Math.Max(c, 1e-9f)).ToArray();
        return states.Mul(weights).Sum(1).Div(new Tensor(counts, states.Shape[0], 1));
    }

    /// <summary>The embedding loss of <paramref name="student"/> [batch, dim] against the teacher's rows [batch, dim].</summary>
    public static Tensor Embedding(Tensor student, Tensor teacher, EmbeddingLoss loss)
    {
        if (!student.Shape.SequenceEqual(teacher.Shape))
            throw new CondenseException($"student embeddings {Shape.Format(student.Shape)} and teacher's {Shape.Format(teacher.Shape)} differ");
        int batch = student.Shape[0];
        if (loss == EmbeddingLoss.Mse) return student.Sub(teacher).Pow(2f).Mean();
        var target = Normalize(teacher.Detach());
        return Normalize(student).Mul(target).Sum().Mul(-1f / batch).Add(1f);
    }

    /// <summary>x / ‖x‖ per row, with the gradient (‖x‖ floored at 1e-6 so a zero row stays finite).</summary>
    public static Tensor Normalize(Tensor x) => x.Div(x.Mul(x).Sum(1, keepDim: true).Add(1e-12f).Sqrt());

    /// <summary>MSE of two hidden states [batch, tokens, dim] over the tokens the mask keeps.</summary>
    public static Tensor Hidden(Tensor student, Tensor teacher, Tensor mask)
    {
        if (!student.Shape.SequenceEqual(teacher.Shape))
            throw new CondenseException($"hidden states {Shape.Format(student.Shape)} and {Shape.Format(teacher.Shape)} differ: map layers of the same width");
        var weights = MaskWeights(mask, student.Shape[0], student.Shape[1]);
        float tokens = Math.Max(1f, weights.Data.Sum());
        return student.Sub(teacher.Detach()).Pow(2f).Mul(weights).Sum().Mul(1f / (tokens * student.Shape[2]));
    }

    /// <summary>
    /// KL(teacher ‖ student) of attention distributions: the student's pre-softmax scores and the teacher's probabilities,
    /// both [batch, heads, queries, keys], averaged over heads and the queries the mask keeps.
    /// </summary>
    public static Tensor Attention(Tensor studentScores, Tensor teacherProbabilities, Tensor mask)
    {
        var s = studentScores.Shape;
        if (s.Length != 4 || !s.SequenceEqual(teacherProbabilities.Shape))
            throw new CondenseException($"attention maps {Shape.Format(s)} and {Shape.Format(teacherProbabilities.Shape)} differ: "
                + "attention distillation needs layers with the same heads");
        int heads = s[1], queries = s[2];
        var keep = mask.Int64Data;
        // Row r is query r % queries of passage r / (heads · queries).
        return MeanKl(studentScores, (float[])teacherProbabilities.Data.Clone(), r => keep[r / (heads * queries) * queries + r % queries] != 0);
    }

    /// <summary>
    /// KL(teacher ‖ student) of next-token distributions from logits [batch, tokens, vocabulary], averaged over the
    /// tokens the mask [batch, tokens] keeps.
    /// </summary>
    public static Tensor NextToken(Tensor studentLogits, Tensor teacherLogits, Tensor mask)
    {
        var s = studentLogits.Shape;
        if (s.Length != 3 || !s.SequenceEqual(teacherLogits.Shape))
            throw new CondenseException($"next-token logits {Shape.Format(s)} and {Shape.Format(teacherLogits.Shape)} differ");
        Tensor teacherLogP;
        using (Autograd.GradMode.NoGrad()) teacherLogP = teacherLogits.Detach().LogSoftmax(-1);
        var keep = MaskWeights(mask, s[0], s[1]).Data;
        // The teacher's probabilities written over its log-probabilities (a batch of GPT-2's logits is hundreds of megabytes).
        var probabilities = teacherLogP.Data;
        System.Numerics.Tensors.TensorPrimitives.Exp(probabilities, probabilities);
        return MeanKl(studentLogits, probabilities, r => keep[r] != 0);
    }

    // KL(teacher ‖ student) averaged over the kept rows of the last axis: the student's scores through log-softmax (so
    // masked entries stay finite) against the teacher's probabilities, which are overwritten (zero on rows left out).
    // KL = cross-entropy − entropy, both about log(width): each row's difference is taken before the rows are summed, so
    // the loss keeps its digits over a vocabulary of 50,257 (one flat sum came out negative).
    private static Tensor MeanKl(Tensor studentScores, float[] probabilities, Func<int, bool> kept)
    {
        var s = studentScores.Shape;
        int width = s[^1];
        var entropy = new float[probabilities.Length / width];
        int rows = 0;
        for (int r = 0; r < entropy.Length; r++)
        {
            var row = probabilities.AsSpan(r * width, width);
            if (!kept(r))
            {
                row.Clear();
                continue;
            }
            rows++;
            double sum = 0;
            foreach (float p in row) if (p > 0) sum += p * Math.Log(p);
            entropy[r] = (float)sum;
        }
        var perRow = studentScores.LogSoftmax(-1).Mul(new Tensor(probabilities, s)).Sum(s.Length - 1).Mul(-1f).Add(new Tensor(entropy, s[..^1]));
        return perRow.Sum().Mul(1f / Math.Max(rows, 1));
    }

    // The mask [batch, tokens] as float weights [batch, tokens, 1].
    private static Tensor MaskWeights(Tensor mask, int batch, int tokens)
    {
        if (mask.Size != batch * tokens) throw new CondenseException($"mask {Shape.Format(mask.Shape)} does not cover [{batch}, {tokens}] tokens");
        var m = mask.DataType == DataType.Float32 ? mask.Data : [.. mask.Int64Data.Select(v => v != 0 ? 1f : 0f)];
        return new Tensor([.. m], batch, tokens, 1);
    }
}
