// The attention and residual-norm fusions on the tiny PyTorch-style transformers at opsets 11–17 (LayerNorm decomposed
// before 17): every self-attention block becomes one FusedAttention (no Transpose or Softmax left), every norm of an Add
// one SkipLayerNormalization, and the fused runner computes the imported graph's outputs within 1e-5 relative at several
// batch sizes and sequence lengths, odd ones and padded ones included — the BERT encoder (post-norm, padding mask), the
// pre-norm encoder and the GPT decoder (causal mask: Trilu from opset 14, Range/Less before). Dynamic int8 graphs fuse
// the bias Add of each quantized MatMul into it. Chains that differ from the export's (another perm, a scale that is
// not a constant, a score read elsewhere) stay as they are.
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Tests.Transformers;

namespace Condense.Tests.Inference;

public class AttentionFusionTests
{
    private static readonly (int Batch, int Length)[] Sizes = [(1, 1), (1, 5), (3, 7), (2, 16)];

    public static TheoryData<long> Opsets() => [11, 12, 13, 14, 17];

    // Token ids and a ragged padding mask: sequence b keeps its first length − b positions (at least one).
    private static Dictionary<string, Tensor> Feed(int batch, int length, bool mask = true)
    {
        var rng = new Rng((ulong)(batch * 31 + length));
        var ids = Enumerable.Range(0, batch * length).Select(_ => (long)(rng.NextFloat() * TinyTransformer.Vocab)).ToArray();
        var feed = new Dictionary<string, Tensor> { ["input_ids"] = Tensor.FromInt64s(ids, DataType.Int64, batch, length) };
        if (mask)
            feed["attention_mask"] = Tensor.FromInt64s(Enumerable.Range(0, batch * length)
                .Select(i => i % length < Math.Max(1, length - i / length) ? 1L : 0L).ToArray(), DataType.Int64, batch, length);
        return feed;
    }

    private static float[] Run(GraphModule model, Dictionary<string, Tensor> feed)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Run(feed)[model.Graph.Outputs[0].Name].Data;
    }

    private static void AssertClose(float[] expected, float[] actual, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-6, expected.Max(v => Math.Abs(v)));
        double worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= relative * scale, $"{what}: difference {worst:E2} of {scale:F3}");
    }

    // Compiles `model`, checks the fused op counts, and that the runner matches the imported graph at every size.
    private static GraphModule AssertFusedAndEqual(GraphModule model, int attentions, int skipNorms, bool mask = true)
    {
        var runner = Assert.IsType<GraphModule>(InferenceEngine.Compile(model).Runner);
        Assert.Equal(attentions, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.FusedAttention));
        Assert.Equal(skipNorms, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.SkipLayerNormalization));
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType is OpTypes.Transpose or OpTypes.Softmax);
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType is OpTypes.FusedAttention or OpTypes.SkipLayerNormalization);
        foreach (var (batch, length) in Sizes)
        {
            var feed = Feed(batch, length, mask);
            AssertClose(Run(model, feed), Run(runner, feed), 1e-5, $"batch {batch}, length {length}");
        }
        return runner;
    }

    [Theory]
    [MemberData(nameof(Opsets))]
    public void BertEncoderFuses(long opset)
    {
        // The embeddings' norm and two per layer, each of an Add.
        var runner = AssertFusedAndEqual(EncoderLayersTests.Load(TinyTransformer.Bert(opset, layers: 2, heads: 4)), 2, 5);
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.LayerNormalization);
        Assert.All(runner.Graph.Nodes.Where(n => n.OpType == OpTypes.FusedAttention), n => Assert.Equal(1f / MathF.Sqrt(4), n.Float("scale", 0)));
    }

    [Theory]
    [MemberData(nameof(Opsets))]
    public void PreNormEncoderAndCausalDecoderFuse(long opset)
    {
        // Pre-norm: a residual sum is read by the next norm and the next Add, so only the final norm (of the last sum) fuses.
        AssertFusedAndEqual(EncoderLayersTests.Load(TinyTransformer.Encoder(opset)), 1, 1);
        AssertFusedAndEqual(EncoderLayersTests.Load(TinyTransformer.Decoder(opset)), 1, 1, mask: false);
    }

    [Fact]
    public void DynamicInt8BertFusesTheBiasIntoTheIntegerMatMul()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2, heads: 4));
        var quantized = Quantizer.Quantize(model, null, new QuantizeOptions { Mode = QuantizationMode.Dynamic }).Model;
        var compiled = InferenceEngine.Compile(quantized);
        Assert.Equal(EngineKind.DynamicInteger, compiled.Kind);
        var runner = Assert.IsType<GraphModule>(compiled.Runner);
        var matMuls = runner.Graph.Nodes.Where(n => n.OpType == OpTypes.DynamicQuantizeMatMul).ToList();
        Assert.Equal(12, matMuls.Count);
        Assert.All(matMuls, n => Assert.Equal(5, n.Inputs.Count));
        Assert.Equal(2, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.FusedAttention));
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.Add);
        foreach (var (batch, length) in Sizes)
        {
            var feed = Feed(batch, length);
            // The integer sums are exact; the float simulation differs from them by rounding only.
            AssertClose(Run(quantized, feed), Run(runner, feed), 1e-5, $"batch {batch}, length {length}");
        }
    }

    [Theory]
    [InlineData("perm")]
    [InlineData("scale")]
    [InlineData("shared")]
    public void NearMissesAreNotFused(string change)
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 1, heads: 4));
        var graph = model.Graph;
        var product = graph.Nodes.First(n => n.OpType == OpTypes.MatMul && graph.Producer(n.Inputs[0])?.OpType == OpTypes.Transpose);
        var div = graph.Nodes.Single(n => n.OpType == OpTypes.Div && n.Inputs[0] == product.Outputs[0]);
        switch (change)
        {
            case "perm":
                graph.Producer(product.Inputs[0])!.Attributes["perm"] = AttributeValue.Ints(0, 2, 3, 1);
                graph.Producer(product.Inputs[1])!.Attributes["perm"] = AttributeValue.Ints(0, 2, 1, 3);
                break;
            case "scale":
                graph.Inputs.Add(new ValueInfo("scale", [1]));
                div.Inputs[1] = "scale";
                break;
            default:
                graph.Outputs.Add(new ValueInfo(product.Outputs[0], [-1, 4, -1, -1]));
                break;
        }
        var runner = Assert.IsType<GraphModule>(InferenceEngine.Compile(model).Runner);
        Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.FusedAttention);
        Assert.Contains(runner.Graph.Nodes, n => n.OpType == OpTypes.Softmax);
    }
}
