// GraphModule's inference path on reused buffers (GraphModule.Recycling.cs, Tensors/TensorArena.cs): every pooled pass —
// resnet-mini unfused, the tiny transformers as imported and as InferenceEngine runs them, a graph of Reshape views,
// Identity and outputs read again by later nodes — gives the plain path's outputs (Run: every value kept, nothing
// pooled) bit for bit, over repeated passes of two shapes (the later ones on arrays with stale contents), and leaves
// the outputs it handed back untouched. Fused, pooled passes give the fused path's bits without pooling. An array a
// kernel keys a cache on is never reused, and two threads running one module at once each get their own results.
using System.Runtime.InteropServices;
using Condense.Autograd;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Tensors;
using Condense.Tests.Transformers;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Graph;

public sealed class RecycledInferenceTests
{
    private static Dictionary<string, Tensor> Plain(GraphModule model, IReadOnlyDictionary<string, Tensor> feed)
    {
        using (GradMode.NoGrad())
        {
            var all = model.Run(feed);
            return model.Graph.Outputs.ToDictionary(o => o.Name, o => all[o.Name]);
        }
    }

    private static Dictionary<string, Tensor> Pooled(GraphModule model, IReadOnlyDictionary<string, Tensor> feed)
    {
        using (GradMode.NoGrad()) return model.RunOutputs(feed);
    }

    private static void AssertBits(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            Assert.Equal(e.Shape, actual[name].Shape);
            Assert.True(MemoryMarshal.Cast<float, int>(e.Data).SequenceEqual(MemoryMarshal.Cast<float, int>(actual[name].Data)), $"output '{name}' differs");
        }
    }

    // Pooled passes over the feeds, round and round (every array pooled), each equal to the reference bit for bit; the
    // outputs of every pass are still intact when all have run. The pooled module runs no other pass (a plain one would
    // fold its constants outside any arena).
    private static void AssertPooledGives(GraphModule model, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> reference,
        params Dictionary<string, Tensor>[] feeds)
    {
        var expected = feeds.Select(reference).ToArray();
        model.Eval();
        model.PooledFrom = 1;
        var handedBack = new List<(Dictionary<string, Tensor> Expected, Dictionary<string, Tensor> Actual)>();
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < feeds.Length; i++)
            {
                var actual = Pooled(model, feeds[i]);
                AssertBits(expected[i], actual);
                handedBack.Add((expected[i], actual));
            }
        foreach (var (e, a) in handedBack) AssertBits(e, a);
    }

    // The pooled path of one module built by `build` against the plain path of another.
    private static void AssertPooledIsPlain(Func<GraphModule> build, params Dictionary<string, Tensor>[] feeds)
    {
        var plain = build();
        plain.Eval();
        AssertPooledGives(build(), feed => Plain(plain, feed), feeds);
    }

    private static GraphModule ResNetMini(bool fused)
    {
        var module = ModelSpec.Parse("resnet-mini,width=8").Build(3);
        BatchNormFoldingTests.Randomize(module, 4);
        return new GraphModule(GraphTracer.Trace(module, [784])) { FusedInference = fused };
    }

    private static Dictionary<string, Tensor> Images(GraphModule model, int n, ulong seed) =>
        new() { [model.Graph.Inputs[0].Name] = Tensor.Uniform(new Rng(seed), 0f, 1f, n, 784) };

    [Fact]
    public void UnfusedResNetMiniIsThePlainPathBitForBit()
    {
        var model = ResNetMini(fused: false);
        AssertPooledIsPlain(() => ResNetMini(fused: false), Images(model, 5, 1), Images(model, 3, 2), Images(model, 5, 3));
    }

    [Fact]
    public void FusedResNetMiniGivesTheBitsOfFusedPassesWithoutPooling()
    {
        var unpooled = ResNetMini(fused: true);
        unpooled.Eval();
        unpooled.PooledFrom = int.MaxValue;
        AssertPooledGives(ResNetMini(fused: true), feed => Pooled(unpooled, feed), Images(unpooled, 4, 4), Images(unpooled, 2, 5));
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void TinyTransformersAreThePlainPathBitForBit(long opset)
    {
        var feeds = new[] { EncoderLayersTests.Feed(2, 6, 1), EncoderLayersTests.Feed(3, 5, 2) };
        var bert = TinyTransformer.Bert(opset, layers: 2);
        AssertPooledIsPlain(() => EncoderLayersTests.Load(bert), feeds);
        AssertPooledIsPlain(() => InferenceEngine.GraphRunner(EncoderLayersTests.Load(bert)), feeds);
        var decoder = TinyTransformer.Decoder(opset);
        AssertPooledIsPlain(() => EncoderLayersTests.Load(decoder), [.. feeds.Select(f => new Dictionary<string, Tensor> { ["input_ids"] = f["input_ids"] })]);
    }

    [Fact]
    public void ViewsIdentitiesAndOutputsReadAgainAreNeverReusedWhileHeld()
    {
        // h = x·Wᵀ + b; v = Reshape(h) and i = Identity(h) share h's array; o3 = Identity(v) is an output over it, read
        // again by o2's Add; r = Relu(i), o1 = Tanh(v) is an output read by o2 = o1 + Reshape(r); o4 = −o2 reads o2,
        // an output; `dead` is never read.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 8]));
        graph.Initializers["W"] = Tensor.Uniform(new Rng(1), -1f, 1f, 6, 8);
        graph.Initializers["b"] = Tensor.Uniform(new Rng(2), -1f, 1f, 6);
        graph.Initializers["shape"] = Tensor.FromInt64s([-1, 3], DataType.Int64, 2);
        var gemm = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        graph.Nodes.Add(new Node("fc", OpTypes.Gemm, ["x", "W", "b"], ["h"], gemm));
        graph.Nodes.Add(new Node("view", OpTypes.Reshape, ["h", "shape"], ["v"]));
        graph.Nodes.Add(new Node("same", OpTypes.Identity, ["h"], ["i"]));
        graph.Nodes.Add(new Node("out3", OpTypes.Identity, ["v"], ["o3"]));
        graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["i"], ["r"]));
        graph.Nodes.Add(new Node("unused", OpTypes.Neg, ["r"], ["dead"]));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["v"], ["o1"]));
        graph.Nodes.Add(new Node("viewR", OpTypes.Reshape, ["r", "shape"], ["rv"]));
        graph.Nodes.Add(new Node("sum", OpTypes.Add, ["o1", "rv"], ["s"]));
        graph.Nodes.Add(new Node("sum3", OpTypes.Add, ["s", "o3"], ["o2"]));
        graph.Nodes.Add(new Node("neg", OpTypes.Neg, ["o2"], ["o4"]));
        foreach (var name in new[] { "o1", "o2", "o3", "o4" }) graph.Outputs.Add(new ValueInfo(name, [-1, 3]));
        Dictionary<string, Tensor> Feed(int n, ulong seed) => new() { ["x"] = Tensor.Uniform(new Rng(seed), -1f, 1f, n, 8) };
        AssertPooledIsPlain(() => new GraphModule(graph), Feed(4, 3), Feed(2, 4), Feed(4, 5));
    }

    [Fact]
    public void FoldedConstantsAndShapeValuesAreNeverPooled()
    {
        // Wt = Transpose(W) is folded once (a constant step); half = ConstantOfShape(Shape(h)) × 0.5 is folded per shape
        // (shape-only steps). Both are released after their reader, at the length of h and out (batch 8 × 6 = 8 × 6):
        // pooled, the next op would write over the cached tensors.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 8]));
        graph.Initializers["W"] = Tensor.Uniform(new Rng(1), -1f, 1f, 6, 8);
        graph.Initializers["scale"] = Tensor.Scalar(0.5f);
        graph.Nodes.Add(new Node("transpose", OpTypes.Transpose, ["W"], ["Wt"]));
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["x", "Wt"], ["h"]));
        graph.Nodes.Add(new Node("shape", OpTypes.Shape, ["h"], ["hs"]));
        graph.Nodes.Add(new Node("ones", OpTypes.ConstantOfShape, ["hs"], ["one"],
            new Dictionary<string, AttributeValue> { ["value"] = AttributeValue.Tensor(Tensor.Full(1f, 1)) }));
        graph.Nodes.Add(new Node("halves", OpTypes.Mul, ["one", "scale"], ["half"]));
        graph.Nodes.Add(new Node("add", OpTypes.Add, ["h", "half"], ["s"]));
        graph.Nodes.Add(new Node("tanh", OpTypes.Tanh, ["s"], ["out"]));
        graph.Outputs.Add(new ValueInfo("out", [-1, 6]));
        Dictionary<string, Tensor> Feed(int n, ulong seed) => new() { ["x"] = Tensor.Uniform(new Rng(seed), -1f, 1f, n, 8) };
        AssertPooledIsPlain(() => new GraphModule(graph), Feed(8, 2), Feed(8, 3));
    }

    [Fact]
    public void AWeightComputedInThePassIsNotReusedUnderItsPackedCache()
    {
        // DynamicQuantizeMatMul keeps its packed weight keyed on B's array: B = codes × 1 is computed in each pass, and a
        // pooled array handed to the next pass's B would find the previous codes packed.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("a", [-1, 8]));
        graph.Inputs.Add(new ValueInfo("codes", [8, 5]));
        graph.Initializers["one"] = Tensor.Scalar(1f);
        graph.Initializers["scale"] = Tensor.Scalar(0.05f);
        graph.Nodes.Add(new Node("weights", OpTypes.Mul, ["codes", "one"], ["B"]));
        graph.Nodes.Add(new Node("matmul", OpTypes.DynamicQuantizeMatMul, ["a", "B", "scale"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 5]));
        Dictionary<string, Tensor> Feed(ulong seed)
        {
            var rng = new Rng(seed);
            var codes = Tensor.Zeros(8, 5);
            for (int i = 0; i < codes.Size; i++) codes.Data[i] = MathF.Round(rng.NextFloat() * 254 - 127);
            return new() { ["a"] = Tensor.Uniform(rng, -1f, 1f, 3, 8), ["codes"] = codes };
        }
        AssertPooledIsPlain(() => new GraphModule(graph), Feed(1), Feed(2));
    }

    [Fact]
    public void TwoThreadsRunningOneModuleEachGetTheirOwnResults()
    {
        var model = EncoderLayersTests.Load(TinyTransformer.Bert(17, layers: 2));
        model.Eval();
        model.PooledFrom = 1;
        var feeds = new[] { EncoderLayersTests.Feed(2, 6, 1), EncoderLayersTests.Feed(3, 5, 2) };
        var expected = feeds.Select(f => Plain(model, f)).ToArray();
        using var start = new Barrier(2);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int pass = 0; pass < 20; pass++)
            {
                try { AssertBits(expected[t], Pooled(model, feeds[t])); }
                catch (Exception e) { failures.Add($"thread {t}, pass {pass}: {e.Message}"); }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }
}
