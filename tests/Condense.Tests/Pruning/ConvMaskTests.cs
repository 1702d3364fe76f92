// Unstructured and N:M masks on 4-D conv weights (out, in/g, kH, kW) of LeNet-5 and resnet-mini, checked
// with naive loops: exact counts, the magnitude order across conv and linear tensors, N:M groups of M
// consecutive weights along each filter's reduction dimension (in/g·kH·kW), masks held while a conv
// net fine-tunes, and the sparse file form of a pruned conv net.
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Training;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class ConvMaskTests
{
    private static GraphModule Spec(string spec, ulong seed)
    {
        var parsed = ModelSpec.Parse(spec);
        return new GraphModule(GraphTracer.Trace(parsed.Build(seed), [parsed.InFeatures]));
    }

    private static List<(string Name, float[] Data, int[] Shape)> Weights(GraphModule model) =>
        model.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm")
            .Select(n => (n.Inputs[1], model.Graph.Initializers[n.Inputs[1]].Data, model.Graph.Initializers[n.Inputs[1]].Shape))
            .ToList();

    [Fact]
    public void GlobalMagnitudeRanksConvAndLinearWeightsTogether()
    {
        var model = Spec("lenet5", seed: 3);
        var original = Weights(model).Select(w => (w.Name, Data: (float[])w.Data.Clone())).ToList();
        var masks = Pruner.Prune(model, new PruneOptions { Sparsity = 0.8, Global = true });

        Assert.Equal(5, masks.Entries.Count);
        Assert.Contains(masks.Entries, e => e.Target.Parameter.Rank == 4 && e.Target.OutputAxis == 0);
        long total = original.Sum(w => (long)w.Data.Length);
        Assert.Equal(Expected(0.8, total), Weights(model).Sum(w => Zeros(w.Data)));
        // Every pruned weight was no larger than every kept one, whichever layer each is in.
        float largestPruned = 0f, smallestKept = float.MaxValue;
        foreach (var ((_, after, _), (_, before)) in Weights(model).Zip(original))
            for (int i = 0; i < before.Length; i++)
                if (after[i] == 0f) largestPruned = Math.Max(largestPruned, MathF.Abs(before[i]));
                else { smallestKept = Math.Min(smallestKept, MathF.Abs(before[i])); Assert.Equal(before[i], after[i]); }
        Assert.True(largestPruned <= smallestKept);
    }

    [Fact]
    public void PerTensorMagnitudeAndRandomPruneEachConvExactly()
    {
        var model = Spec("resnet-mini,width=8,input=1x12x12", seed: 4);
        Pruner.Prune(model, new PruneOptions { Sparsity = 0.6 });
        var convs = Weights(model).Where(w => w.Shape.Length == 4).ToList();
        Assert.Equal(9, convs.Count); // stem, 2 per block, 2 projection shortcuts
        foreach (var (name, data, _) in convs) Assert.True(Expected(0.6, data.Length) == Zeros(data), name);

        MaskSet RandomMasks(ulong seed) => Pruner.ComputeMasks(
            Spec("resnet-mini,width=8,input=1x12x12", seed: 4), new PruneOptions { Method = PruneMethod.Random, Sparsity = 0.3, Seed = seed });
        var a = RandomMasks(5);
        var b = RandomMasks(5);
        var c = RandomMasks(6);
        foreach (var (target, mask) in a.Entries) Assert.Equal(Expected(0.3, mask.Length), Zeros(mask));
        Assert.Equal(a.Entries.Select(e => e.Mask), b.Entries.Select(e => e.Mask));
        Assert.NotEqual(a.Entries.Select(e => e.Mask), c.Entries.Select(e => e.Mask));
    }

    [Theory]
    [InlineData("lenet5", "4.weight", 2, 4)]   // reduction 6·5·5 = 150: 37 groups of 4 and one of 2
    [InlineData("resnet-mini,width=8,input=1x12x12", "5.conv1.weight", 1, 4)]   // 8·3·3 = 72
    [InlineData("resnet-mini,width=8,input=1x12x12", "5.shortcut.0.weight", 3, 5)]   // 8·1·1 = 8: a group of 5 and one of 3
    public void NMGroupsRunAlongTheReductionDimension(string spec, string name, int n, int m)
    {
        var model = Spec(spec, seed: 5);
        var before = (float[])model.Graph.Initializers[name].Data.Clone();
        var shape = model.Graph.Initializers[name].Shape;
        Pruner.Prune(model, new PruneOptions { Method = PruneMethod.NM, N = n, M = m });
        var after = model.Graph.Initializers[name].Data;
        int filters = shape[0], reduction = shape[1] * shape[2] * shape[3];
        for (int o = 0; o < filters; o++)
            for (int start = 0; start < reduction; start += m)
            {
                var group = Enumerable.Range(o * reduction + start, Math.Min(m, reduction - start)).ToList();
                var kept = group.Where(i => after[i] != 0f).ToList();
                Assert.Equal(Math.Min(n, group.Count), kept.Count);
                Assert.All(kept, i => Assert.Equal(before[i], after[i]));
                // The kept ones are the largest |w| of their group.
                Assert.All(group.Except(kept), p => Assert.All(kept, k => Assert.True(MathF.Abs(before[p]) <= MathF.Abs(before[k]))));
            }
    }

    [Fact]
    public void MasksHoldWhileAConvNetFineTunes()
    {
        var model = Spec("lenet5", seed: 6);
        var masks = Pruner.Prune(model, new PruneOptions { Sparsity = 0.7 });
        var pruned = Weights(model).Select(w => (w.Name, Data: (float[])w.Data.Clone())).ToList();
        var (train, _) = Condense.Data.Mnist.LoadEmbedded();
        Trainer.Fit(model, train.Take(256), null, new TrainOptions { Epochs = 1, Seed = 1, LearningRate = 0.05f, Momentum = 0.9f }, null, masks.Hooks());
        foreach (var ((name, after, _), (_, before)) in Weights(model).Zip(pruned))
        {
            var mask = masks.Entries.Single(e => e.Target.Name == name).Mask;
            for (int i = 0; i < after.Length; i++)
                if (mask[i] == 0f) Assert.True(after[i] == 0f, $"{name}[{i}] = {after[i]} after fine-tuning");
            Assert.Contains(Enumerable.Range(0, after.Length), i => mask[i] != 0f && after[i] != before[i]);
        }
    }

    [Fact]
    public void SensitivityCoversConvWeights()
    {
        var model = Spec("lenet5", seed: 8);
        var (_, test) = Condense.Data.Mnist.LoadEmbedded();
        var data = test.Take(100);
        var report = Sensitivity.Analyze(model, data, [0, 0.9], new PruneOptions { Include = ["1.weight", "4.weight"] });
        Assert.Equal(["1.weight", "4.weight"], report.Rows.Select(r => r.Tensor));
        Assert.Equal([6L * 25, 16L * 150], report.Rows.Select(r => r.Parameters));
        foreach (var row in report.Rows)
        {
            var copy = Spec("lenet5", seed: 8);
            Pruner.Prune(copy, new PruneOptions { Sparsity = 0.9, Include = [row.Tensor] });
            Assert.Equal(Evaluator.Evaluate(copy, data).Accuracy, row.Accuracies[1]);
        }
    }

    [Fact]
    public void PrunedConvNetIsStoredSparse()
    {
        var dir = Directory.CreateTempSubdirectory("condense-convmask-");
        try
        {
            var model = Spec("lenet5", seed: 7);
            string dense = Path.Combine(dir.FullName, "dense.safetensors"), sparse = Path.Combine(dir.FullName, "sparse.safetensors");
            Checkpoint.Save(model.Graph, dense);
            Pruner.Prune(model, new PruneOptions { Sparsity = 0.9, Global = true });
            Checkpoint.Save(model.Graph, sparse);
            var loaded = Checkpoint.Load(sparse);
            foreach (var (name, t) in model.Graph.Initializers)
            {
                Assert.Equal(t.Shape, loaded.Graph.Initializers[name].Shape);
                Assert.Equal(t.Data, loaded.Graph.Initializers[name].Data); // -0 (a masked negative weight) is stored as 0
            }
            Assert.True(new FileInfo(sparse).Length < new FileInfo(dense).Length / 3, $"{new FileInfo(sparse).Length} vs {new FileInfo(dense).Length} bytes");
        }
        finally { dir.Delete(recursive: true); }
    }
}
