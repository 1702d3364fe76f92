// GraphModule.RunObserving (GraphModule.Observe.cs): the values asked for — a graph input, an initializer, and values a
// fused pass would never make (a Conv's output before its BatchNormalization) — each handed over once, bit for bit what
// Run computes, batch after batch of two sizes while the arrays are reused (the second batch's values sit on arrays the
// first batch's had); with gradients on, the same values without pooling; LayerInputs.Visit, on which calibration and
// bias correction run, hands the layers what Run computes, on an MLP of equal widths whose released arrays the pass
// reuses at once (a layer input not copied as it was computed would be overwritten).
using System.Runtime.InteropServices;
using Condense.Autograd;
using Condense.Calibration;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Graph;

public sealed class ObservedValuesTests
{
    private static GraphModule ResNetMini()
    {
        var module = ModelSpec.Parse("resnet-mini,width=8").Build(3);
        BatchNormFoldingTests.Randomize(module, 4);
        var model = new GraphModule(GraphTracer.Trace(module, [784]));
        model.Eval();
        return model;
    }

    private static Dictionary<string, Tensor> Images(GraphModule model, int n, ulong seed) =>
        new() { [model.Graph.Inputs[0].Name] = Tensor.Uniform(new Rng(seed), 0f, 1f, n, 784) };

    private static bool SameBits(Tensor a, Tensor b) =>
        a.Shape.SequenceEqual(b.Shape) && MemoryMarshal.Cast<float, int>(a.Data).SequenceEqual(MemoryMarshal.Cast<float, int>(b.Data));

    // Every value the graph computes that is not a shape, plus its first input and first initializer.
    private static HashSet<string> Wanted(GraphModule model) =>
    [
        model.Graph.Inputs[0].Name, model.Graph.Initializers.Keys.First(),
        .. model.Graph.Nodes.Where(n => n.OpType is OpTypes.Conv or OpTypes.BatchNormalization or OpTypes.Relu or OpTypes.Add or OpTypes.Gemm)
            .Select(n => n.Outputs[0]),
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheValuesAskedForAreRunsBitForBit(bool gradients)
    {
        var reference = ResNetMini();
        var model = ResNetMini();
        model.PooledFrom = 64;
        var wanted = Wanted(model);
        Assert.Contains(model.Graph.Nodes, n => n.OpType == OpTypes.BatchNormalization && wanted.Contains(n.Inputs[0]));
        var arrays = new List<HashSet<float[]>>();
        foreach (var feed in new[] { Images(model, 4, 1), Images(model, 4, 2), Images(model, 2, 3) })
        {
            Dictionary<string, Tensor> expected;
            using (GradMode.NoGrad()) expected = reference.Run(feed);
            var seen = new Dictionary<string, int>();
            var batch = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
            void Observe(string name, Tensor value)
            {
                seen[name] = seen.GetValueOrDefault(name) + 1;
                Assert.True(SameBits(expected[name], value), $"value '{name}' differs");
                if (value.Size >= 64 && !model.Graph.Initializers.ContainsKey(name) && !feed.ContainsKey(name)) batch.Add(value.Data);
            }
            if (gradients) model.RunObserving(feed, wanted, Observe);
            else using (GradMode.NoGrad()) model.RunObserving(feed, wanted, Observe);
            Assert.Equal(wanted.Order(), seen.Keys.Order());
            Assert.All(seen.Values, count => Assert.Equal(1, count));
            arrays.Add(batch);
        }
        // Pooled without gradients: the second batch reuses the first's arrays; with gradients every array is new.
        Assert.Equal(!gradients, arrays[1].Overlaps(arrays[0]));
    }

    // An MLP of equal widths: every value has one length, so a released array is reused by the next value of the pass.
    private static GraphModule EqualWidths() =>
        new(new Quantization.LayerGraphs([64], 3).Gemm("g1", 64, 64).Op("r1", OpTypes.Relu).Gemm("g2", 64, 64).Op("r2", OpTypes.Relu)
            .Gemm("g3", 64, 64).Op("r3", OpTypes.Relu).Gemm("g4", 64, 64).Build());

    [Fact]
    public void LayerInputsSeeTheValuesRunComputes()
    {
        var model = EqualWidths();
        model.Eval();
        model.PooledFrom = 1;   // every array reused once released, so a value not copied in time would be overwritten
        var layers = model.Graph.Nodes.Where(n => n.OpType == OpTypes.Gemm).ToList();
        var feeds = new[] { 5UL, 6UL }.Select(seed => new Dictionary<string, Tensor>
            { [model.Graph.Inputs[0].Name] = Tensor.Uniform(new Rng(seed), -1f, 1f, 8, 64) }).ToArray();
        var expected = new List<(string, Tensor)>();
        using (GradMode.NoGrad())
            foreach (var feed in feeds)
            {
                var values = EqualWidths().Run(feed);
                expected.AddRange(layers.Select(n => (n.Name, values[n.Inputs[0]])));
            }
        var observed = new List<(string, Tensor)>();
        LayerInputs.Visit(model, feeds, layers, (node, x) => observed.Add((node.Name, x.Clone())));
        Assert.Equal(expected.Count, observed.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Item1, observed[i].Item1);
            Assert.True(SameBits(expected[i].Item2, observed[i].Item2), $"input of '{expected[i].Item1}' differs");
        }
    }
}
