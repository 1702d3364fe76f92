// Filter pruning through the ops between a layer and its readers: Concat (ConcatFilterPruningTests), ReLU6 and zero padding
// (ZeroKeepingOpsPruningTests), SiLU and squeeze-and-excitation gates (GatedChannelPruningTests).
// Filters whose channels meet in a Concat (SqueezeNet's fire modules; DenseNet and Inception the same way) are cut like any
// others: each reader of the concatenation loses the cut channels at the offset of their segment, which moves as the
// segments before it shrink. The oracle: the physically smaller model computes what the original computes with the cut
// filters (weights and biases) set to zero, since a zero channel stays zero through ReLU, pooling and Concat.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Pruning;
using Condense.Tensors;

namespace Condense.Tests.Pruning;

public class ConcatFilterPruningTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    // The fire module exported by PyTorch (stem → squeeze → 1×1 and 3×3 expands → Concat → ReLU → pooling → Linear), with
    // random biases so that a cut filter's bias matters too.
    private static GraphModule Fire()
    {
        var graph = ModelFile.Load(Fixture("fire-op13.onnx")).Graph.Clone();
        var rng = new Rng(7);
        foreach (var conv in graph.Nodes.Where(n => n.OpType == OpTypes.Conv))
        {
            var bias = graph.Initializers[conv.Inputs[2]];
            for (int i = 0; i < bias.Size; i++) bias.Data[i] = rng.NextNormal() * 0.1f;
        }
        return new GraphModule(graph);
    }

    // The oracle: a copy of the model with each change's cut filters (rows of every conv weight it names, and the conv's bias
    // entries) set to zero.
    internal static ModelGraph Zeroed(GraphModule model, IEnumerable<LayerChange> changes)
    {
        var zeroed = model.Graph.Clone();
        foreach (var change in changes)
            foreach (string weight in change.Layers)
            {
                var conv = zeroed.Nodes.Single(n => n.OpType == OpTypes.Conv && n.Inputs[1] == weight);
                var w = zeroed.Initializers[weight];
                int filter = w.Size / w.Shape[0];
                foreach (int c in Enumerable.Range(0, change.ChannelsBefore).Except(change.Kept))
                {
                    w.Data.AsSpan(c * filter, filter).Clear();
                    zeroed.Initializers[conv.Inputs[2]].Data[c] = 0f;
                }
            }
        return zeroed;
    }

    private static Tensor Logits(GraphModule model)
    {
        var x = Npy.Read(Fixture("fire.input.npy"));
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(new Tensor(x.ToFloat(), x.Shape));
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(0.5)]
    public void CutFiltersBeforeAConcatEqualZeroedFilters(double ratio)
    {
        var model = Fire();
        var result = StructuredPruning.Remove(model, ratio);
        // Stem, squeeze and both expands (whose channels the Concat joins); only the Linear head, writing the output, is left.
        Assert.Equal(4, result.Changes.Count);
        Assert.Contains("fc.weight", Assert.Single(result.Skipped));
        var zeroed = Zeroed(model, result.Changes);
        Graph.TensorAsserts.Close(Logits(new GraphModule(zeroed)), Logits(result.Model), 1e-5f);
        // The head reads the Concat's 16 channels, 8 from each expand before the cut.
        int expands = result.Changes.Where(c => c.Layers[0].StartsWith("e", StringComparison.Ordinal)).Sum(c => c.Kept.Count);
        Assert.Equal([5, expands], result.Model.Graph.Initializers["fc.weight"].Shape);
    }
}

public class ZeroKeepingOpsPruningTests
{
    // x → conv (3→8) → Clip [min, 6] → Pad (spatial, value) → conv (8→4) → GlobalAveragePool → Flatten: output [N, 4].
    private static GraphModule Model(float clipMin, float padValue)
    {
        var rng = new Rng(3);
        Tensor Random(params int[] shape)
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Size; i++) t.Data[i] = rng.NextNormal() * 0.3f;
            return t;
        }
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 6, 6]));
        foreach (var (name, t) in new[] { ("w1", Random(8, 3, 3, 3)), ("b1", Random(8)), ("w2", Random(4, 8, 3, 3)), ("b2", Random(4)) })
        {
            graph.Initializers[name] = t;
            graph.Trainable.Add(name);
        }
        graph.Initializers["min"] = Tensor.Scalar(clipMin);
        graph.Initializers["max"] = Tensor.Scalar(6f);
        graph.Initializers["pads"] = Tensor.FromInt64s([0, 0, 1, 1, 0, 0, 1, 1], DataType.Int64, [8]);
        graph.Initializers["value"] = Tensor.Scalar(padValue);
        var kernel = new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Ints(3, 3) };
        graph.Nodes.Add(new Node("conv1", OpTypes.Conv, ["x", "w1", "b1"], ["c1"], kernel));
        graph.Nodes.Add(new Node("relu6", OpTypes.Clip, ["c1", "min", "max"], ["r"]));
        graph.Nodes.Add(new Node("pad", OpTypes.Pad, ["r", "pads", "value"], ["p"]));
        graph.Nodes.Add(new Node("conv2", OpTypes.Conv, ["p", "w2", "b2"], ["c2"], kernel));
        graph.Nodes.Add(new Node("pool", OpTypes.GlobalAveragePool, ["c2"], ["g"]));
        graph.Nodes.Add(new Node("flatten", OpTypes.Flatten, ["g"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4]));
        return new GraphModule(graph);
    }

    [Fact]
    public void Relu6AndZeroPaddingKeepACutChannelAtZero()
    {
        var model = Model(0f, 0f);
        var result = StructuredPruning.Remove(model, 0.5);
        var change = Assert.Single(result.Changes);
        var zeroed = ConcatFilterPruningTests.Zeroed(model, [change]);
        var x = Tensor.Zeros(2, 3, 6, 6);
        for (int i = 0; i < x.Size; i++) x.Data[i] = (i % 11 - 5) * 0.2f;
        Graph.TensorAsserts.Close(new GraphModule(zeroed).Forward(x), result.Model.Forward(x), 1e-5f);
        Assert.Equal([4, 4, 3, 3], result.Model.Graph.Initializers["w2"].Shape);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    public void ASpatialMeanKeepsEachChannelApart(long keepDims)
    {
        // conv (3→8) → Relu → ReduceMean over H and W (MNASNet's head) → [Flatten] → Gemm (8→2).
        var rng = new Rng(5);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 5, 5]));
        foreach (var (name, shape) in new[] { ("w", new[] { 8, 3, 3, 3 }), ("b", new[] { 8 }), ("fc", new[] { 2, 8 }), ("fb", new[] { 2 }) })
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Size; i++) t.Data[i] = rng.NextNormal() * 0.3f;
            graph.Initializers[name] = t;
            graph.Trainable.Add(name);
        }
        var kernel = new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Ints(3, 3) };
        graph.Nodes.Add(new Node("conv", OpTypes.Conv, ["x", "w", "b"], ["c"], kernel));
        graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["c"], ["r"]));
        graph.Nodes.Add(new Node("mean", OpTypes.ReduceMean, ["r"], ["m"],
            new Dictionary<string, AttributeValue> { ["axes"] = AttributeValue.Ints(2, 3), ["keepdims"] = AttributeValue.Int(keepDims) }));
        string features = "m";
        if (keepDims == 1)
        {
            graph.Nodes.Add(new Node("flatten", OpTypes.Flatten, ["m"], ["f"]));
            features = "f";
        }
        var transposed = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) };
        graph.Nodes.Add(new Node("head", OpTypes.Gemm, [features, "fc", "fb"], ["y"], transposed));
        graph.Outputs.Add(new ValueInfo("y", [-1, 2]));
        var model = new GraphModule(graph);
        var result = StructuredPruning.Remove(model, 0.5);
        var change = Assert.Single(result.Changes);
        var x = Tensor.Zeros(2, 3, 5, 5);
        for (int i = 0; i < x.Size; i++) x.Data[i] = (i % 7 - 3) * 0.3f;
        Graph.TensorAsserts.Close(new GraphModule(ConcatFilterPruningTests.Zeroed(model, [change])).Forward(x), result.Model.Forward(x), 1e-5f);
        Assert.Equal([2, 4], result.Model.Graph.Initializers["fc"].Shape);
    }

    [Theory]
    [InlineData(0.5f, 0f, "Clip")]
    [InlineData(0f, 1f, "Pad")]
    public void AClipAboveZeroOrAPaddingOfOnesBlocksTheCut(float clipMin, float padValue, string op)
    {
        var result = StructuredPruning.Remove(Model(clipMin, padValue), 0.5);
        Assert.DoesNotContain(result.Changes, c => c.Layers.Contains("w1"));
        Assert.Contains(result.Skipped, s => s.StartsWith("w1", StringComparison.Ordinal) && s.Contains(op, StringComparison.Ordinal));
    }
}

public class GatedChannelPruningTests
{
    // x → conv1 (3→8) → SiLU as x · σ(x) → squeeze-and-excitation (pool → fc1 1×1 8→4 → Relu → fc2 1×1 4→8 → σ → product)
    // → conv2 (8→4) → GlobalAveragePool → Flatten: EfficientNet's block as PyTorch exports it.
    private static GraphModule Model()
    {
        var rng = new Rng(9);
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 3, 6, 6]));
        void Put(string name, params int[] shape)
        {
            var t = Tensor.Zeros(shape);
            for (int i = 0; i < t.Size; i++) t.Data[i] = rng.NextNormal() * 0.4f;
            graph.Initializers[name] = t;
            graph.Trainable.Add(name);
        }
        Put("w1", 8, 3, 3, 3); Put("b1", 8); Put("f1", 4, 8, 1, 1); Put("g1", 4); Put("f2", 8, 4, 1, 1); Put("g2", 8); Put("w2", 4, 8, 1, 1); Put("b2", 4);
        var k3 = new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Ints(3, 3), ["pads"] = AttributeValue.Ints(1, 1, 1, 1) };
        var k1 = new Dictionary<string, AttributeValue> { ["kernel_shape"] = AttributeValue.Ints(1, 1) };
        graph.Nodes.Add(new Node("conv1", OpTypes.Conv, ["x", "w1", "b1"], ["c1"], k3));
        graph.Nodes.Add(new Node("sigmoid1", OpTypes.Sigmoid, ["c1"], ["s1"]));
        graph.Nodes.Add(new Node("silu", OpTypes.Mul, ["c1", "s1"], ["a"]));
        graph.Nodes.Add(new Node("squeeze", OpTypes.GlobalAveragePool, ["a"], ["p"]));
        graph.Nodes.Add(new Node("fc1", OpTypes.Conv, ["p", "f1", "g1"], ["h"], k1));
        graph.Nodes.Add(new Node("relu", OpTypes.Relu, ["h"], ["r"]));
        graph.Nodes.Add(new Node("fc2", OpTypes.Conv, ["r", "f2", "g2"], ["e"], k1));
        graph.Nodes.Add(new Node("gate", OpTypes.Sigmoid, ["e"], ["s2"]));
        graph.Nodes.Add(new Node("excite", OpTypes.Mul, ["a", "s2"], ["m"]));
        graph.Nodes.Add(new Node("conv2", OpTypes.Conv, ["m", "w2", "b2"], ["c2"], k1));
        graph.Nodes.Add(new Node("pool", OpTypes.GlobalAveragePool, ["c2"], ["g"]));
        graph.Nodes.Add(new Node("flatten", OpTypes.Flatten, ["g"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4]));
        return new GraphModule(graph);
    }

    [Fact]
    public void SiluAndSqueezeExcitationJoinTheirChannelsAndCutFiltersEqualZeroedOnes()
    {
        var model = Model();
        var result = StructuredPruning.Remove(model, 0.5);
        // conv1's filters and fc2's (which gates them) are one group; fc1's another.
        var groups = result.Changes.Select(c => c.Layers.Order(StringComparer.Ordinal).Reverse().ToArray()).OrderByDescending(l => l.Length);
        Assert.Equal([["w1", "f2"], ["f1"]], groups);
        var zeroed = ConcatFilterPruningTests.Zeroed(model, result.Changes);
        var x = Tensor.Zeros(2, 3, 6, 6);
        for (int i = 0; i < x.Size; i++) x.Data[i] = (i % 13 - 6) * 0.15f;
        Graph.TensorAsserts.Close(new GraphModule(zeroed).Forward(x), result.Model.Forward(x), 1e-5f);
    }

    // MobileNetV3's hardswish and hardsigmoid as PyTorch exports them before opset 14: x · clip(x + 3, 0, 6) / 6 in place of the
    // SiLU, clip(e + 3, 0, 6) / 6 in place of the excitation's sigmoid.
    private static GraphModule HardModel()
    {
        var graph = Model().Graph.Clone();
        foreach (var (name, value) in new[] { ("three", 3f), ("zero", 0f), ("six", 6f) }) graph.Initializers[name] = new Tensor([value], 1);
        int at = graph.Nodes.FindIndex(n => n.Name == "sigmoid1");
        graph.Nodes.RemoveRange(at, 2);
        graph.Nodes.InsertRange(at,
        [
            new Node("plus3", OpTypes.Add, ["c1", "three"], ["t1"]), new Node("relu6", OpTypes.Clip, ["t1", "zero", "six"], ["u1"]),
            new Node("product", OpTypes.Mul, ["c1", "u1"], ["v1"]), new Node("sixth", OpTypes.Div, ["v1", "six"], ["a"]),
        ]);
        at = graph.Nodes.FindIndex(n => n.Name == "gate");
        graph.Nodes.RemoveAt(at);
        graph.Nodes.InsertRange(at,
        [
            new Node("gplus3", OpTypes.Add, ["e", "three"], ["t2"]), new Node("grelu6", OpTypes.Clip, ["t2", "zero", "six"], ["u2"]),
            new Node("gsixth", OpTypes.Div, ["u2", "six"], ["s2"]),
        ]);
        return new GraphModule(graph);
    }

    [Fact]
    public void DecomposedHardActivationsAreGatesAsSigmoidsAre()
    {
        var model = HardModel();
        var result = StructuredPruning.Remove(model, 0.5);
        var groups = result.Changes.Select(c => c.Layers.Order(StringComparer.Ordinal).Reverse().ToArray()).OrderByDescending(l => l.Length);
        Assert.Equal([["w1", "f2"], ["f1"]], groups);
        var zeroed = ConcatFilterPruningTests.Zeroed(model, result.Changes);
        var x = Tensor.Zeros(2, 3, 6, 6);
        for (int i = 0; i < x.Size; i++) x.Data[i] = (i % 13 - 6) * 0.15f;
        Graph.TensorAsserts.Close(new GraphModule(zeroed).Forward(x), result.Model.Forward(x), 1e-5f);
    }

    [Fact]
    public void AGateReadByAnythingButTheProductKeepsItsChannelsWhole()
    {
        var graph = Model().Graph.Clone();
        // The gate added instead of multiplied: a cut channel would add σ(0) = ½, not zero.
        graph.Nodes.Single(n => n.Name == "excite").OpType = OpTypes.Add;
        var result = StructuredPruning.Remove(new GraphModule(graph), 0.5);
        Assert.DoesNotContain(result.Changes, c => c.Layers.Contains("f2"));
        Assert.Contains(result.Skipped, s => s.Contains("Sigmoid (gate)", StringComparison.Ordinal) && s.Contains("into Add", StringComparison.Ordinal));
    }
}
