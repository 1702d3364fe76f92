// Fidelity-aware quantization of a text model (--min-cosine): a tiny encoder (word embeddings, two projections) at
// 4 bits misses a cosine target that keeping its most sensitive layers in float reaches; an unreachable target
// returns the most faithful model seen and says it was not met.
using System.Text;
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public class FidelityAwareQuantizationTests
{
    private static readonly string[] Words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"];

    private static (GraphModule, TextTokenizer) TinyEncoder()
    {
        var vocabulary = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(Words).ToArray();
        var tokenizer = TextTokenizer.FromVocabulary(new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', vocabulary) + "\n")), "vocab.txt");
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("input_ids", [-1, -1]) { DataType = "int64" });
        graph.Initializers["words"] = Tensor.Uniform(new Rng(1), -1, 1, vocabulary.Length, 64);
        graph.Initializers["w1"] = Tensor.Uniform(new Rng(2), -0.3f, 0.3f, 64, 64);
        graph.Initializers["w2"] = Tensor.Uniform(new Rng(3), -0.3f, 0.3f, 64, 64);
        foreach (var name in new[] { "words", "w1", "w2" }) graph.Trainable.Add(name);
        graph.Nodes.Add(new Node("embed", OpTypes.Gather, ["words", "input_ids"], ["e"]));
        graph.Nodes.Add(new Node("first", OpTypes.MatMul, ["e", "w1"], ["h"]));
        graph.Nodes.Add(new Node("second", OpTypes.MatMul, ["h", "w2"], ["last_hidden_state"]));
        graph.Outputs.Add(new ValueInfo("last_hidden_state", [-1, -1, 64]));
        return (new GraphModule(graph), tokenizer);
    }

    private static List<string> Passages(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => string.Join(' ', Enumerable.Range(0, 1 + rng.Next(6)).Select(_ => Words[rng.Next(Words.Length)])))];
    }

    [Fact]
    public void LayersGoBackToFloatUntilTheCosineTargetHolds()
    {
        var (model, tokenizer) = TinyEncoder();
        var options = new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 2, BlockSize = 16 };
        var plain = TextQuantizePipeline.Apply(model, tokenizer, Passages(8, 1), Passages(40, 2), options, new EmbeddingOptions()).Report;
        Assert.Null(plain.TargetMet);
        double target = Math.Min(0.9999, plain.CosineMean + (1 - plain.CosineMean) / 2);
        var aware = TextQuantizePipeline.Apply(model, tokenizer, Passages(8, 1), Passages(40, 2), options with { MinCosine = target },
            new EmbeddingOptions()).Report;
        Assert.True(aware.TargetMet, $"target {target} not met: {aware.CosineMean}");
        Assert.True(aware.CosineMean >= target);
        Assert.NotEmpty(aware.FloatLayers.Concat(new[] { "words", "w1", "w2" }.Except(aware.Layers.Select(l => l.Weight))));

        var impossible = TextQuantizePipeline.Apply(model, tokenizer, Passages(8, 1), Passages(40, 2), options with { MinCosine = 1.0 },
            new EmbeddingOptions()).Report;
        Assert.False(impossible.TargetMet);
        Assert.True(impossible.CosineMean >= plain.CosineMean);
        Assert.Single(impossible.Layers);   // every layer but one went back to float
    }
}
