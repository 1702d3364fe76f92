// Gradients of the ops a transformer is made of, as they run in an imported graph (GraphModule), against central
// differences (GraphGradCheck): LayerNormalization, a masked Softmax, GELU written with Erf and as the Gelu op, Gather on
// an embedding table with repeated ids, Where on a bool or int condition, batched attention MatMul, the decomposed layer
// norm (ReduceMean/Sub/Pow/Sqrt/Div), Pow with a trainable exponent, Split/Reshape/Transpose, and the tiny BERT encoder
// and GPT decoder end to end.
using Condense.Tensors;
using Condense.Tests.Transformers;
using Google.Protobuf;
using Onnx;
using static Condense.Tests.Graph.GraphGradCheck;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Graph;

public sealed class TransformerOpGradientTests
{
    private static Tensor RandomFloats(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1f, 1f, shape);

    private static TensorProto RandomInitializer(string name, ulong seed, float offset, params int[] shape) =>
        Floats(name, RandomFloats(seed, shape).Data.Select(v => v + offset).ToArray(), shape.Select(d => (long)d).ToArray());

    private static long[] Dims(params int[] shape) => shape.Select(d => (long)d).ToArray();

    private static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static NodeProto Unsqueeze(string input, string output, long axis, long opset, List<TensorProto> initializers)
    {
        if (opset < 13) return Node("Unsqueeze", [input], output, Ints("axes", axis));
        initializers.Add(Longs($"{output}_axes", [axis], 1));
        return Node("Unsqueeze", [input, $"{output}_axes"], output);
    }

    [Theory]
    [InlineData(-1, new[] { 8 })]
    [InlineData(1, new[] { 3, 8 })] // normalised over the last two axes
    public void LayerNormalization(int axis, int[] scaleShape)
    {
        var module = Import([Node("LayerNormalization", ["x", "scale", "bias"], "y", Int("axis", axis))], [Input("x", FloatType, 2, 3, 8)], "y",
            [RandomInitializer("scale", 2, 1f, scaleShape), RandomInitializer("bias", 3, 0f, scaleShape)], opset: 17);
        Check(module, new() { ["x"] = RandomFloats(1, 2, 3, 8) }, "y", ["x"]);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(18)] // ReduceMean takes its axes as an input
    public void DecomposedLayerNorm(long opset)
    {
        var initializers = new List<TensorProto>
        {
            Floats("two", [2f]), Floats("eps", [1e-5f]), RandomInitializer("scale", 2, 1f, 8), RandomInitializer("bias", 3, 0f, 8),
        };
        NodeProto Mean(string input, string output)
        {
            if (opset < 18) return Node("ReduceMean", [input], output, Ints("axes", -1));
            initializers.Add(Longs($"{output}_axes", [-1], 1));
            return Node("ReduceMean", [input, $"{output}_axes"], output);
        }
        NodeProto[] nodes =
        [
            Mean("x", "mean"), Node("Sub", ["x", "mean"], "centered"), Node("Pow", ["centered", "two"], "squared"),
            Mean("squared", "variance"), Node("Add", ["variance", "eps"], "shifted"), Node("Sqrt", ["shifted"], "deviation"),
            Node("Div", ["centered", "deviation"], "normalized"), Node("Mul", ["normalized", "scale"], "scaled"), Node("Add", ["scaled", "bias"], "y"),
        ];
        var module = Import(nodes, [Input("x", FloatType, 2, 3, 8)], "y", initializers, opset);
        // Scalar initializers (the exponent, ε) import as constants: x^p has no real derivative in p where x < 0 (torch.pow gives NaN
        // too), and an optimizer step on it would turn the layer norm to NaN.
        Check(module, new() { ["x"] = RandomFloats(1, 2, 3, 8) }, "y", ["x"], ["scale", "bias"]);
        Assert.DoesNotContain(module.NamedParameters(), p => p.Name is "two" or "eps");
    }

    [Fact]
    public void PowWithATrainableExponent()
    {
        // Bases ≥ 0, some exactly 0, where x^p·ln x → 0: torch.pow's exponent gradient is 0 there (0·ln 0 would be NaN).
        var module = Import([Node("Pow", ["x", "p"], "y")], [Input("x", FloatType, 2, 4)], "y", [Floats("p", [2f, 3f, 1.5f, 2.5f], 4)], 13);
        var x = new Tensor([0f, 0.5f, 1.5f, 0.7f, 2f, 0f, 0.8f, 1.2f], 2, 4); // zeros under the integer exponents
        Check(module, new() { ["x"] = x }, "y", ["x"], step: 1e-3f);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void SoftmaxWithAdditiveMask(long opset)
    {
        // BERT's extended mask: scores + (1 − mask)·−10000 over the keys, the mask an int64 input [batch, keys].
        var initializers = new List<TensorProto> { Floats("one", [1f]), Floats("big", [-10000f]) };
        NodeProto[] nodes =
        [
            Node("Cast", ["mask"], "maskFloat", Int("to", FloatType)), Unsqueeze("maskFloat", "mask3", 1, opset, initializers),
            Unsqueeze("mask3", "mask4", 2, opset, initializers), Node("Sub", ["one", "mask4"], "masked"), Node("Mul", ["masked", "big"], "bias"),
            Node("Add", ["scores", "bias"], "biased"), Node("Softmax", ["biased"], "y", Int("axis", -1)),
        ];
        var module = Import(nodes, [Input("scores", FloatType, 2, 2, 4, 4), Input("mask", Int64Type, 2, 4)], "y", initializers, opset);
        var scores = Tensor.Uniform(new Rng(4), -3f, 3f, 2, 2, 4, 4);
        var mask = Tensor.FromInt64s([1, 1, 0, 0, 1, 1, 1, 0], DataType.Int64, 2, 4);
        var entries = Measure(module, new() { ["scores"] = scores, ["mask"] = mask }, "y", ["scores"], parameters: []);
        AssertClose(entries);
        // Masked keys get (to float32) no gradient: their probabilities are exp(−10000) = 0.
        for (int i = 0; i < scores.Size; i++)
            if (mask.GetDouble(i / 32 * 4 + i % 4) == 0) Assert.Equal(0f, scores.Grad!.Data[i]);
    }

    [Fact]
    public void ErfGelu()
    {
        // x·0.5·(1 + erf(x/√2)), as torch.onnx.export writes nn.GELU().
        NodeProto[] nodes =
        [
            Node("Div", ["x", "root2"], "scaled"), Node("Erf", ["scaled"], "erf"), Node("Add", ["erf", "one"], "shifted"),
            Node("Mul", ["x", "shifted"], "product"), Node("Mul", ["product", "half"], "y"),
        ];
        var module = Import(nodes, [Input("x", FloatType, 3, 7)], "y", [Floats("root2", [MathF.Sqrt(2f)]), Floats("one", [1f]), Floats("half", [0.5f])], 13);
        Check(module, new() { ["x"] = Tensor.Uniform(new Rng(5), -3f, 3f, 3, 7) }, "y", ["x"]);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("tanh")]
    public void GeluOp(string approximate)
    {
        var module = Import([Node("Gelu", ["x"], "y", String("approximate", approximate))], [Input("x", FloatType, 3, 7)], "y", [], opset: 20);
        Check(module, new() { ["x"] = Tensor.Uniform(new Rng(6), -3f, 3f, 3, 7) }, "y", ["x"], parameters: []);
    }

    [Fact]
    public void GatherOnAnEmbeddingTableScatterAddsRepeatedIds()
    {
        var module = Import([Node("Gather", ["table", "ids"], "y")], [Input("ids", Int64Type, 2, 5)], "y", [RandomInitializer("table", 7, 0f, 10, 4)], 13);
        // Id 3 three times, 1 three times (once as −9), 9 twice (once as −1); rows 2, 4, 5, 6 and 8 unused.
        long[] ids = [1, 3, 3, 7, 1, 0, 3, 9, -1, -9];
        var entries = Measure(module, new() { ["ids"] = Tensor.FromInt64s(ids, DataType.Int64, 2, 5) }, "y", []);
        AssertClose(entries);
        foreach (int row in new[] { 2, 4, 5, 6, 8 })
            Assert.All(entries.Where(e => e.Index / 4 == row), e => Assert.Equal(0.0, e.Analytic));
    }

    [Fact]
    public void GatherAlongAnInnerAxis()
    {
        var module = Import([Node("Gather", ["x", "ids"], "y", Int("axis", 1))], [Input("x", FloatType, 3, 6)], "y", [Longs("ids", [5, 0, 5, 2], 4)], 13);
        Check(module, new() { ["x"] = RandomFloats(8, 3, 6) }, "y", ["x"]);
    }

    [Theory]
    [InlineData(BoolType)]
    [InlineData(Int64Type)] // cast to bool first, as exporters write `mask.bool()`
    public void WhereOnAnIntegerOrBoolCondition(int conditionType)
    {
        NodeProto[] nodes = conditionType == BoolType ? [Node("Where", ["condition", "a", "b"], "y")]
            : [Node("Cast", ["condition"], "flag", Int("to", BoolType)), Node("Where", ["flag", "a", "b"], "y")];
        var module = Import(nodes, [Input("condition", conditionType, 2, 3, 4), Input("a", FloatType, 2, 3, 4)], "y",
            [RandomInitializer("b", 9, 0f, 4)], 13); // b broadcast: its gradient sums over the rows it fills
        var rng = new Rng(10);
        var flags = Enumerable.Range(0, 24).Select(_ => rng.NextFloat() < 0.5f ? 1L : 0L).ToArray();
        var condition = Tensor.FromInt64s(conditionType == BoolType ? flags : flags.Select(f => f * 3).ToArray(),
            conditionType == BoolType ? DataType.Bool : DataType.Int64, 2, 3, 4);
        var a = RandomFloats(11, 2, 3, 4);
        Check(module, new() { ["condition"] = condition, ["a"] = a }, "y", ["a"]);
        for (int i = 0; i < 24; i++) Assert.Equal(flags[i] == 0, a.Grad!.Data[i] == 0f);
    }

    [Theory]
    [InlineData(new[] { 2, 2, 4, 3 })]
    [InlineData(new[] { 1, 2, 4, 3 })] // broadcast over the batch
    public void BatchedAttentionMatMul(int[] keyShape)
    {
        var module = Import([Node("MatMul", ["q", "k"], "y")], [Input("q", FloatType, 2, 2, 3, 4), Input("k", FloatType, Dims(keyShape))], "y", [], 13);
        Check(module, new() { ["q"] = RandomFloats(12, 2, 2, 3, 4), ["k"] = RandomFloats(13, keyShape) }, "y", ["q", "k"]);
    }

    [Fact]
    public void SplitReshapeTransposeIntoHeads()
    {
        // [2, 3, 12] → q, k, v [2, 3, 4] → heads [2, 2, 3, 2]; y = concat(flat(q·kᵀ), flat(vᵀ)).
        NodeProto split = Node("Split", ["x", "sizes"], "q");
        split.Output.AddRange(["k", "v"]);
        split.Attribute.Add(Int("axis", -1));
        NodeProto[] nodes =
        [
            split,
            Node("Reshape", ["q", "heads"], "q4"), Node("Transpose", ["q4"], "qt", Ints("perm", 0, 2, 1, 3)),
            Node("Reshape", ["k", "heads"], "k4"), Node("Transpose", ["k4"], "kt", Ints("perm", 0, 2, 3, 1)),
            Node("Reshape", ["v", "heads"], "v4"), Node("Transpose", ["v4"], "vt", Ints("perm", 0, 2, 3, 1)),
            Node("MatMul", ["qt", "kt"], "scores"), Node("Reshape", ["scores", "flat"], "scoresFlat"), Node("Reshape", ["vt", "flat"], "vFlat"),
            Node("Concat", ["scoresFlat", "vFlat"], "y", Int("axis", 1)),
        ];
        var module = Import(nodes, [Input("x", FloatType, 2, 3, 12)], "y",
            [Longs("sizes", [4, 4, 4], 3), Longs("heads", [2, 3, 2, 2], 4), Longs("flat", [0, -1], 2)], 13);
        Check(module, new() { ["x"] = RandomFloats(14, 2, 3, 12) }, "y", ["x"]);
    }

    [Fact]
    public void UnevenSplitByAttribute()
    {
        NodeProto split = Node("Split", ["x"], "a", Int("axis", 1), Ints("split", 1, 3, 2));
        split.Output.AddRange(["b", "c"]);
        NodeProto[] nodes =
        [
            split, Node("Transpose", ["b"], "bt", Ints("perm", 0, 2, 1)), Node("Reshape", ["a", "flat"], "af"),
            Node("Reshape", ["bt", "flat"], "bf"), Node("Mul", ["c", "c"], "cc"), Node("Reshape", ["cc", "flat"], "cf"),
            Node("Concat", ["cf", "af", "bf"], "y", Int("axis", 1)),
        ];
        var module = Import(nodes, [Input("x", FloatType, 2, 6, 5)], "y", [Longs("flat", [2, -1], 2)], 11);
        Check(module, new() { ["x"] = RandomFloats(15, 2, 6, 5) }, "y", ["x"]);
    }

    [Theory]
    [InlineData(17, false)] // LayerNormalization
    [InlineData(13, false)] // decomposed layer norm
    [InlineData(14, true)]  // causal mask from Trilu, Cast to bool and Where
    [InlineData(11, true)]  // causal mask from Range and Less
    public void TinyTransformerWeights(long opset, bool decoder)
    {
        var module = Import(decoder ? TinyTransformer.Decoder(opset) : TinyTransformer.Encoder(opset));
        var feeds = new Dictionary<string, Tensor> { ["input_ids"] = Tensor.FromInt64s([3, 17, 3, 42, 8, 0, 49, 17, 5, 5], DataType.Int64, 2, 5) };
        if (!decoder) feeds["attention_mask"] = Tensor.FromInt64s([1, 1, 1, 0, 0, 1, 1, 1, 1, 1], DataType.Int64, 2, 5);
        // Every weight tensor (not the scalar constants), four entries each.
        var weights = module.NamedParameters().Where(p => p.Parameter.Size > 1).Select(p => p.Name).ToArray();
        Assert.True(weights.Length >= 10, $"only {weights.Length} weight tensors");
        var entries = Measure(module, feeds, decoder ? "logits" : "last_hidden_state", [], weights, entries: 4);
        AssertClose(entries);
        Assert.Equal(weights.Length, entries.Select(e => e.Tensor).Distinct().Count());
    }

    [Fact]
    public void TheCheckCatchesATwoPercentError()
    {
        // The tolerance is tight enough to matter: the encoder's gradients with one entry 2% off fail it.
        var module = Import(TinyTransformer.Encoder(17));
        var ids = Tensor.FromInt64s([3, 17, 3, 42, 8], DataType.Int64, 1, 5);
        var mask = Tensor.FromInt64s([1, 1, 1, 1, 0], DataType.Int64, 1, 5);
        var weight = module.NamedParameters().First(p => p.Parameter.Size > 1).Name;
        var entries = Measure(module, new() { ["input_ids"] = ids, ["attention_mask"] = mask }, "last_hidden_state", [], [weight], entries: 4);
        AssertClose(entries);
        var largest = entries.MaxBy(e => Math.Abs(e.Numeric))!;
        var corrupted = entries.Select(e => e == largest ? e with { Analytic = e.Analytic * 1.02 } : e).ToList();
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertClose(corrupted));
    }
}
