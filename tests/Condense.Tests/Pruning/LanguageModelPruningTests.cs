// A causal language model's output head (the MatMul computing its logits) is left dense by pruning, as SparseGPT and
// Wanda leave it, unless the include patterns name it; an encoder has no such head. The oracle is the fixture's graph as
// PyTorch exported it: the head is the initializer the node writing `logits` reads, and it comes out bit-for-bit unchanged
// while every other Linear loses half its weights.
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Transformers;

namespace Condense.Tests.Pruning;

public sealed class LanguageModelPruningTests
{
    private static readonly string[] Passages = ["the first of these words", "a second passage of some length", "and a third one here"];

    [Fact]
    public void TheOutputHeadIsLeftDenseUnlessIncluded()
    {
        var model = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        var tokenizer = DecoderWithPastTests.Tokenizer();
        string head = model.Graph.Nodes.Single(n => n.Outputs.Contains("logits")).Inputs[1];
        Assert.True(model.Graph.Initializers.ContainsKey(head));
        var options = new PruneOptions { Sparsity = 0.5 };

        var (pruned, report) = TextPrunePipeline.Apply(model, tokenizer, Passages, options, new EmbeddingOptions(32));
        Assert.Equal(head, report.DenseOutputHead);
        Assert.Equal(model.Graph.Initializers[head].Data, pruned.Graph.Initializers[head].Data);
        var others = WeightLayers.Find(pruned).Where(w => w.Name != head).ToList();
        Assert.NotEmpty(others);
        foreach (var w in others) Assert.Equal(PruningTestModels.Expected(0.5, w.Parameter.Size), PruningTestModels.Zeros(w.Parameter.Data));
        Assert.DoesNotContain(report.Tensors, t => t.Name == head);

        var (all, allReport) = TextPrunePipeline.Apply(model, tokenizer, Passages, options with { Include = ["*"] }, new EmbeddingOptions(32));
        Assert.Null(allReport.DenseOutputHead);
        Assert.Equal(PruningTestModels.Expected(0.5, all.Graph.Initializers[head].Size), PruningTestModels.Zeros(all.Graph.Initializers[head].Data));
    }

    [Fact]
    public void TheHeadIsFoundThroughItsBiasAndEncodersHaveNone()
    {
        var graph = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx")).Graph.Clone();
        var matMul = graph.Nodes.Single(n => n.Outputs.Contains("logits"));
        string head = matMul.Inputs[1];
        int vocabulary = graph.Initializers[head].Shape[1];
        // logits = MatMul(…) + bias, as a head with a bias (Gemm-free exports of nn.Linear) computes them.
        matMul.Outputs[0] = "head_product";
        graph.Initializers["head_bias"] = Tensor.Zeros([vocabulary]);
        graph.Nodes.Insert(graph.Nodes.IndexOf(matMul) + 1, new Node("head_add", OpTypes.Add, ["head_product", "head_bias"], ["logits"]));
        var biased = new GraphModule(graph);
        Assert.Equal(head, WeightLayers.Producing(biased, "logits")?.Name);
        Assert.Equal(head, TextPrunePipeline.DenseOutputHead(biased, DecoderWithPastTests.Tokenizer(), new PruneOptions()));

        var encoder = ModelFile.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", "encoder-op14.onnx"));
        var words = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "first", "of", "these", "words", "a", "b", "c", "d", "e", "f" };
        var wordPiece = Condense.Data.Text.TextTokenizer.FromText(string.Join('\n', words), "vocab.txt");
        Assert.Null(TextPrunePipeline.DenseOutputHead(encoder, wordPiece, new PruneOptions()));
    }
}
