// Calibrated filter pruning of a DenseNet as PyTorch exports it (Fixtures/onnx/export-dense.py): its 3×3 convs have no
// bias, read the 1×1 convs' filters (so a refit gives them one) and feed a Concat (so their own filters are cut later, by
// norm). The oracle: the same model with an explicit zero bias on every bias-free conv, which computes the same function,
// must be cut into the same model — same filters kept, same outputs — and both must run.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Pruning;
using Condense.Tensors;

namespace Condense.Tests.Pruning;

public sealed class CalibratedDenseTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    [Fact]
    public void ABiasFreeConvRefittedAndThenCutIsCutAsIfItHadAZeroBias()
    {
        var model = ModelFile.Load(Fixture("dense-op13.onnx"));
        var input = Npy.Read(Fixture("dense.input.npy"));
        var x = new Tensor(input.ToFloat(), input.Shape);
        var pytorch = Npy.Read(Fixture("dense.expected.npy")).ToFloat();
        AssertClose(pytorch, Logits(model, x), 1e-4);

        var biased = new GraphModule(model.Graph.Clone());
        foreach (var conv in biased.Graph.Nodes.Where(n => n.OpType == OpTypes.Conv && n.Inputs.Count == 2).ToList())
        {
            string name = conv.Inputs[1] + ".zero_bias";
            biased.Graph.Initializers[name] = Tensor.Zeros([biased.Graph.Initializers[conv.Inputs[1]].Shape[0]]);
            conv.Inputs.Add(name);
        }
        var calibration = Tensor.Uniform(new Rng(5), -1f, 1f, 96, 3, 16, 16);
        var cut = CalibratedFilters.Remove(model, 0.5, () => [CalibratedFiltersTests.Feed(model, calibration)]);
        var oracle = CalibratedFilters.Remove(biased, 0.5, () => [CalibratedFiltersTests.Feed(biased, calibration)]);

        // The first layer's 3×3 conv: refitted as the reader of the 1×1 conv's filters, then its own filters cut.
        var conv2 = cut.Changes.Single(c => c.Layers.Contains("layers.0.conv2.weight"));
        Assert.True(conv2.ChannelsAfter < conv2.ChannelsBefore);
        Assert.Equal(oracle.Changes.Select(c => (string.Join("+", c.Layers), string.Join(",", c.Kept))),
            cut.Changes.Select(c => (string.Join("+", c.Layers), string.Join(",", c.Kept))));
        var node = cut.Model.Graph.Nodes.Single(n => n.OpType == OpTypes.Conv && n.Inputs[1] == "layers.0.conv2.weight");
        Assert.Equal([conv2.ChannelsAfter], cut.Model.Graph.Initializers[node.Inputs[2]].Shape);
        var test = Tensor.Uniform(new Rng(6), -1f, 1f, 8, 3, 16, 16);
        AssertClose(Logits(oracle.Model, test), Logits(cut.Model, test), 1e-5);
    }

    private static void AssertClose(float[] expected, float[] actual, double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs(v));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * scale, $"[{i}]: {actual[i]} against {expected[i]}");
    }

    private static float[] Logits(GraphModule model, Tensor x)
    {
        model.Eval();
        using var _ = GradMode.NoGrad();
        return model.Forward(x).Data;
    }
}
