// Inference in batch chunks (GraphModule.BatchChunks.cs): a large batch of a small CNN runs as chunks of samples after one
// whole pass has shown its samples never meet, and gives the whole batch's outputs (uneven chunks, two outputs); graphs
// whose ops mix samples (a Softmax or a Transpose over the batch axis, a constant spanning the batch, a Reshape that
// regroups samples or names the batch size, an op outside the list, MaxPool's indices) always run whole — beside a graph
// of the same ops with the attributes that keep samples apart, which does run in chunks; so do small batches and models
// whose weights outweigh their largest value.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class BatchChunkTests
{
    [Theory]
    [InlineData(64, 4)]  // chunks of 16
    [InlineData(70, 4)]  // 18, 18, 18 and 16
    public void ALargeBatchOfASmallCnnRunsInChunksWithTheWholeBatchsOutputs(int batch, int chunks)
    {
        var spec = ModelSpec.Parse("resnet-mini,width=8").Build(3);
        var chunked = Model(GraphTracer.Trace(spec, [784]), budget: 64 << 10);
        var whole = Model(GraphTracer.Trace(spec, [784]), budget: 64 << 10);
        whole.ChunkedInference = false;
        var x = Tensor.Uniform(new Rng(5), 0f, 1f, batch, 784);
        using (GradMode.NoGrad())
        {
            var expected = whole.Forward(x);
            AssertClose(expected, chunked.Forward(x));
            Assert.Equal(1, chunked.LastPassChunks); // the first pass runs whole and looks at the graph
            for (int pass = 0; pass < 2; pass++)
            {
                AssertClose(expected, chunked.Forward(x));
                Assert.Equal(chunks, chunked.LastPassChunks);
            }
            // A batch too small for two chunks of MinChunk runs whole.
            var few = Tensor.Uniform(new Rng(6), 0f, 1f, 2 * GraphModule.MinChunk - 1, 784);
            AssertClose(whole.Forward(few), chunked.Forward(few));
            Assert.Equal(1, chunked.LastPassChunks);
        }
    }

    [Fact]
    public void EveryOutputIsStacked()
    {
        var graph = Dense((g, x) =>
        {
            g.Nodes.Add(new Node("relu", OpTypes.Relu, [x], ["relu.y"]));
            g.Nodes.Add(new Node("sigmoid", OpTypes.Sigmoid, [x], ["sigmoid.y"]));
            g.Outputs.Add(new ValueInfo("relu.y", [-1, 8]));
            g.Outputs.Add(new ValueInfo("sigmoid.y", [-1, 8]));
        });
        var (chunked, whole) = (Model(graph, budget: 1), Model(graph, budget: 1));
        whole.ChunkedInference = false;
        var feed = new Dictionary<string, Tensor> { ["input"] = Tensor.Uniform(new Rng(7), -1f, 1f, 50, 12) };
        using (GradMode.NoGrad())
            for (int pass = 0; pass < 2; pass++)
            {
                var (ours, theirs) = (chunked.RunOutputs(feed), whole.RunOutputs(feed));
                AssertClose(theirs["relu.y"], ours["relu.y"]);
                AssertClose(theirs["sigmoid.y"], ours["sigmoid.y"]);
            }
        Assert.Equal(3, chunked.LastPassChunks); // 50 samples: at most 50 / MinChunk chunks
    }

    public static TheoryData<string, bool> Heads() => new()
    {
        { "softmax over the features", true },
        { "softmax over the batch", false },
        { "transpose keeping the batch first", true },
        { "transpose of the batch axis", false },
        { "constant of one row", true },
        { "constant spanning the batch", false },
        { "reshape within a sample", true },
        { "reshape across samples", false },
        { "reshape fixing the batch", false },
        { "reduction outside the list", false },
        { "max pool with indices", false },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void OnlyGraphsWhoseSamplesNeverMeetRunInChunks(string head, bool separable)
    {
        const int batch = 64;
        var graph = Dense((g, x) =>
        {
            string y = "head.y";
            Node node = head switch
            {
                "softmax over the features" => new Node("head", OpTypes.Softmax, [x], [y], Attributes("axis", AttributeValue.Int(-1))),
                "softmax over the batch" => new Node("head", OpTypes.Softmax, [x], [y], Attributes("axis", AttributeValue.Int(0))),
                "transpose keeping the batch first" => new Node("head", OpTypes.Transpose, [Unsqueezed(g, x)], [y],
                    Attributes("perm", AttributeValue.Ints(0, 2, 1))),
                "transpose of the batch axis" => new Node("head", OpTypes.Transpose, [x], [y], Attributes("perm", AttributeValue.Ints(1, 0))),
                "constant of one row" => new Node("head", OpTypes.Add, [x, Constant(g, 1, 8)], [y]),
                "constant spanning the batch" => new Node("head", OpTypes.Add, [x, Constant(g, batch, 8)], [y]),
                "reshape within a sample" => new Node("head", OpTypes.Reshape, [x, Shape(g, -1, 2, 4)], [y]),
                "reshape across samples" => new Node("head", OpTypes.Reshape, [x, Shape(g, -1, 16)], [y]),
                "reshape fixing the batch" => new Node("head", OpTypes.Reshape, [x, Shape(g, batch, 2, 4)], [y]),
                "reduction outside the list" => new Node("head", OpTypes.ReduceMean, [x], [y], Attributes("axes", AttributeValue.Ints(1))),
                _ => new Node("head", OpTypes.MaxPool, [Image(g, x)], [y, "indices"], Attributes("kernel_shape", AttributeValue.Ints(2, 2))),
            };
            g.Nodes.Add(node);
            g.Outputs.Add(new ValueInfo(y, [-1]));
        });
        var (chunked, whole) = (Model(graph, budget: 1), Model(graph, budget: 1));
        whole.ChunkedInference = false;
        var feed = new Dictionary<string, Tensor> { ["input"] = Tensor.Uniform(new Rng(8), -1f, 1f, batch, 12) };
        using (GradMode.NoGrad())
            for (int pass = 0; pass < 2; pass++) AssertClose(whole.RunOutputs(feed)["head.y"], chunked.RunOutputs(feed)["head.y"]);
        Assert.Equal(separable ? batch / GraphModule.MinChunk : 1, chunked.LastPassChunks);
    }

    [Fact]
    public void ModelsWhoseWeightsOutweighTheirLargestValueRunWhole()
    {
        // 256 → 8 features: 8 KiB of weights against 2 KiB for the 64 samples' largest value.
        var graph = Dense((g, x) => g.Outputs.Add(new ValueInfo(x, [-1, 8])), inputs: 256);
        var model = Model(graph, budget: 1);
        var x = Tensor.Uniform(new Rng(9), -1f, 1f, 64, 256);
        using (GradMode.NoGrad())
            for (int pass = 0; pass < 2; pass++) model.Forward(x);
        Assert.Equal(1, model.LastPassChunks);
    }

    // input (N, 12 or inputs) → Gemm → Relu → x (N, 8), then whatever head adds.
    private static ModelGraph Dense(Action<ModelGraph, string> head, int inputs = 12)
    {
        var graph = new ModelGraph();
        var rng = new Rng(11);
        graph.Inputs.Add(new ValueInfo("input", [-1, inputs]));
        graph.Initializers["w"] = Tensor.Uniform(rng, -0.5f, 0.5f, 8, inputs);
        graph.Initializers["b"] = Tensor.Uniform(rng, -0.1f, 0.1f, 8);
        graph.Nodes.Add(new Node("gemm", OpTypes.Gemm, ["input", "w", "b"], ["gemm.y"], Attributes("transB", AttributeValue.Int(1))));
        graph.Nodes.Add(new Node("relu0", OpTypes.Relu, ["gemm.y"], ["x"]));
        head(graph, "x");
        return graph;
    }

    private static string Constant(ModelGraph g, int rows, int columns)
    {
        g.Initializers["c"] = Tensor.Uniform(new Rng(12), -1f, 1f, rows, columns);
        return "c";
    }

    private static string Shape(ModelGraph g, params long[] shape)
    {
        g.Initializers["shape"] = Tensor.FromInt64s(shape, DataType.Int64, shape.Length);
        return "shape";
    }

    // x (N, 8) as (N, 1, 8), through a Reshape that keeps each sample.
    private static string Unsqueezed(ModelGraph g, string x)
    {
        g.Nodes.Add(new Node("unsqueeze", OpTypes.Reshape, [x, Shape(g, -1, 1, 8)], ["x3"]));
        return "x3";
    }

    // x (N, 8) as a (N, 1, 2, 4) image.
    private static string Image(ModelGraph g, string x)
    {
        g.Nodes.Add(new Node("image", OpTypes.Reshape, [x, Shape(g, -1, 1, 2, 4)], ["x4"]));
        return "x4";
    }

    private static Dictionary<string, AttributeValue> Attributes(string name, AttributeValue value) => new() { [name] = value };

    private static GraphModule Model(ModelGraph graph, long budget)
    {
        var model = new GraphModule(graph) { ChunkBudgetBytes = budget, PooledFrom = 0 };
        model.Eval();
        return model;
    }

    private static void AssertClose(Tensor expected, Tensor actual) => TensorAsserts.Close(expected, actual, 1e-5f);
}
