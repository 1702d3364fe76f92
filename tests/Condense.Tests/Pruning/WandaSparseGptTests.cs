// Wanda (Pruning/Wanda.cs) and SparseGPT (Pruning/SparseGpt.cs) against the oracles of NaivePruning written from the papers,
// SparseGPT's output error against magnitude's and Wanda's on correlated inputs, N:M group by group, and both through Pruner
// on a traced MLP (Gemm) and the tiny transformer encoder (MatMul). Every random draw has a seed.
using Condense.Calibration;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Condense.Tests.Transformers;
using Xunit.Abstractions;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Pruning;

public sealed class WandaSparseGptTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0, 0.5, 0, 0)]
    [InlineData(1, 0.5, 0, 0)]     // MatMul layout [in, out]
    [InlineData(0, 0.3, 0, 0)]
    [InlineData(0, 0, 2, 4)]
    [InlineData(1, 0, 2, 4)]
    [InlineData(0, 0, 3, 5)]       // 24 inputs: four groups of 5 and one of 4
    public void WandaMaskMatchesThePapersFormula(int outputAxis, double sparsity, int n, int m)
    {
        const int outputs = 16, inputs = 24;
        var w = NaivePruning.Normal(outputs * inputs, new Rng(1));
        var x = NaivePruning.Correlated(200, inputs, 2);
        var sumSquares = SumSquares(x);
        var weight = outputAxis == 0 ? new Tensor(w, outputs, inputs) : new Tensor(w, outputs, inputs).Transpose();
        var mask = m == 0 ? Wanda.Mask(weight, outputAxis, sumSquares, sparsity) : Wanda.MaskNM(weight, outputAxis, sumSquares, n, m);
        if (outputAxis == 1) mask = new Tensor(mask, inputs, outputs).Transpose().Data;

        Assert.Equal(NaivePruning.WandaMask(w, outputs, inputs, x, sparsity, n, m), mask);
        // The activations matter: magnitude alone chooses differently.
        var magnitude = m == 0 ? NaivePruning.WandaMask(w, outputs, inputs, Ones(200, inputs), sparsity) : Masks.NM(w, outputs, inputs,
            (o, i) => o * inputs + i, n, m);
        Assert.NotEqual(magnitude, mask);
    }

    [Theory]
    [InlineData(16, 24, 0.5, 0, 0, 1UL)]     // the small layer: one block
    [InlineData(8, 300, 0.6, 0, 0, 2UL)]     // blocks of 128, 128 and 44 columns
    [InlineData(16, 24, 0, 2, 4, 3UL)]
    [InlineData(6, 300, 0, 2, 3, 4UL)]       // blocks of 126 columns (whole groups of 3)
    [InlineData(5, 150, 0, 1, 200, 5UL)]     // one group wider than the block, cut short by the layer
    public void SparseGptMatchesThePapersColumnByColumnAlgorithm(int rows, int columns, double sparsity, int n, int m, ulong seed)
    {
        var w = NaivePruning.Normal(rows * columns, new Rng(seed));
        var hessian = new InputHessian(columns);
        hessian.Add(NaivePruning.Correlated(200, columns, seed + 10));
        var weight = new Tensor(w, rows, columns);
        var (pruned, mask) = m == 0 ? SparseGpt.Prune(weight, hessian, sparsity) : SparseGpt.PruneNM(weight, hessian, n, m);
        var (expected, expectedMask) = NaivePruning.SparseGpt(w, rows, columns, hessian.ToMatrix(), sparsity, n, m);

        Assert.Equal(expectedMask, mask);
        double worst = 0;
        for (int i = 0; i < w.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - pruned.Data[i]) / Math.Max(1, Math.Abs(expected[i])));
            if (mask[i] == 0f) Assert.Equal(0f, pruned.Data[i]);
        }
        output.WriteLine($"{rows}×{columns}: largest difference from the naive algorithm {worst:E2}");
        Assert.True(worst < 1e-5, $"difference {worst}");
        Assert.NotEqual(w.Select((v, i) => v * mask[i]), pruned.Data);   // the kept weights moved
    }

    [Theory]
    [InlineData(0.5, 0, 0)]
    [InlineData(0, 2, 4)]
    public void SparseGptReconstructsBetterThanWandaAndMagnitude(double sparsity, int n, int m)
    {
        const int outputs = 64, inputs = 128;
        var w = NaivePruning.Normal(outputs * inputs, new Rng(21));
        var x = NaivePruning.Correlated(1024, inputs, 22);
        var hessian = new InputHessian(inputs);
        hessian.Add(x);
        var weight = new Tensor(w, outputs, inputs);
        var magnitudeMask = m == 0 ? Masks.Magnitude(w, sparsity) : Masks.NM(w, outputs, inputs, (o, i) => o * inputs + i, n, m);
        var wandaMask = m == 0 ? Wanda.Mask(weight, 0, SumSquares(x), sparsity) : Wanda.MaskNM(weight, 0, SumSquares(x), n, m);
        var sparseGpt = m == 0 ? SparseGpt.Prune(weight, hessian, sparsity) : SparseGpt.PruneNM(weight, hessian, n, m);

        double dense = NaivePruning.OutputError(x, w, new double[w.Length], outputs);
        double Error(float[] pruned) => NaivePruning.OutputError(x, w, pruned.Select(v => (double)v).ToArray(), outputs) / dense;
        double magnitude = Error([.. w.Select((v, i) => v * magnitudeMask[i])]);
        double wanda = Error([.. w.Select((v, i) => v * wandaMask[i])]);
        double sparse = Error(sparseGpt.Weight.Data);
        output.WriteLine($"{(m == 0 ? $"{sparsity:P0}" : $"{n}:{m}")}: ‖WX − ŴX‖² / ‖WX‖² magnitude {magnitude:F4}, Wanda {wanda:F4}, "
            + $"SparseGPT {sparse:F4}");
        Assert.Equal(Masks.Sparsity(magnitudeMask), Masks.Sparsity(sparseGpt.Mask));
        Assert.True(wanda < magnitude, $"Wanda {wanda} ≥ magnitude {magnitude}");
        Assert.True(sparse < 0.9 * wanda, $"SparseGPT {sparse} not well below Wanda {wanda}");
    }

    [Fact]
    public void TwoFourKeepsExactlyTwoOfEveryFourInputsOfEachOutput()
    {
        const int outputs = 16, inputs = 24;
        var w = NaivePruning.Normal(outputs * inputs, new Rng(31));
        var x = NaivePruning.Correlated(200, inputs, 32);
        var hessian = new InputHessian(inputs);
        hessian.Add(x);
        var (pruned, mask) = SparseGpt.PruneNM(new Tensor(w, outputs, inputs), hessian, 2, 4);
        AssertTwoFour(mask, outputs, inputs, (o, i) => o * inputs + i);
        AssertTwoFour(pruned.Data, outputs, inputs, (o, i) => o * inputs + i);
        var matMulLayout = new Tensor(w, outputs, inputs).Transpose();
        AssertTwoFour(Wanda.MaskNM(matMulLayout, 1, SumSquares(x), 2, 4), outputs, inputs, (o, i) => i * outputs + o);
    }

    [Theory]
    [InlineData(PruneScore.Wanda)]
    [InlineData(PruneScore.SparseGpt)]
    public void AnMlpOfGemmsIsPrunedThroughPrunerFromItsCalibrationBatches(PruneScore score)
    {
        var model = PruningTestModels.Mlp("mlp:24-16-8", seed: 41);
        var batches = Enumerable.Range(0, 3).Select(b => NaivePruning.Correlated(64, 24, 42 + (ulong)b)).ToList();
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration =
            () => batches.Select(x => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["input"] = x });
        var first = WeightLayers.Find(model)[0];
        Assert.Equal((0, 16, 24), (first.OutputAxis, first.Outputs, first.InputsPerOutput));
        var original = PruningTestModels.Snapshot(model);
        var options = new PruneOptions { Score = score, Sparsity = 0.5 };

        var computed = Pruner.ComputeMasks(model, options, calibration);
        Assert.All(original, p => PruningTestModels.AssertBitEqual(p.Value, PruningTestModels.Param(model, p.Key).Data, p.Key));
        var masks = Pruner.Prune(model, options, calibration);
        Assert.Equal(computed.Entries.Select(e => e.Mask), masks.Entries.Select(e => e.Mask));

        var all = new Tensor([.. batches.SelectMany(b => b.Data)], 192, 24);
        var w = original[first.Name];
        var weight = PruningTestModels.Param(model, first.Name).Data;
        if (score == PruneScore.Wanda)
        {
            Assert.Equal(NaivePruning.WandaMask(w, 16, 24, all, 0.5), masks.Entries[0].Mask);
            PruningTestModels.AssertBitEqual([.. w.Select((v, i) => v * masks.Entries[0].Mask[i])], weight, first.Name);
        }
        else
        {
            var hessian = new InputHessian(24);
            foreach (var x in batches) hessian.Add(x);
            var (expected, mask) = SparseGpt.Prune(new Tensor(w, 16, 24), hessian, 0.5);
            Assert.Equal(mask, masks.Entries[0].Mask);
            PruningTestModels.AssertBitEqual(expected.Data, weight, first.Name);   // the reconstruction, written in place
        }
        Assert.All(masks.Entries, e => Assert.Equal(0.5, Masks.Sparsity(e.Mask)));
        Assert.All(masks.Entries, e => Assert.Equal(e.Target.Parameter.Size / 2, PruningTestModels.Zeros(e.Target.Parameter.Data)));
        Assert.DoesNotContain(masks.Entries, e => e.Target.IsBias);
    }

    [Theory]
    [InlineData(PruneMethod.Magnitude)]
    [InlineData(PruneMethod.NM)]
    public void TheTinyTransformersMatMulsArePrunedWithEachScore(PruneMethod method)
    {
        string path = OnnxTestModels.Save(TinyTransformer.Encoder(17), "tiny-encoder");
        try
        {
            var batches = Enumerable.Range(0, 4).Select(b => EncoderFeed(4, 12, 60 + (ulong)b)).ToList();
            var heldOut = EncoderFeed(4, 12, 70);
            var dense = Encode(OnnxImporter.Load(path), heldOut);
            var errors = new Dictionary<PruneScore, double>();
            foreach (var score in Enum.GetValues<PruneScore>())
            {
                var model = OnnxImporter.Load(path);
                var masks = Pruner.Prune(model, new PruneOptions { Method = method, Score = score, Sparsity = 0.5 }, () => batches);
                Assert.Equal(4, masks.Entries.Count);   // qkv, attention output and the MLP's two layers
                foreach (var (target, mask) in masks.Entries)
                {
                    Assert.Equal((OpTypes.MatMul, 1), (target.Node.OpType, target.OutputAxis));
                    int outputs = target.Outputs, inputs = target.InputsPerOutput;
                    if (method == PruneMethod.NM) AssertTwoFour(target.Parameter.Data, outputs, inputs, (o, i) => i * outputs + o);
                    if (score == PruneScore.Magnitude)   // one ranking per tensor
                        Assert.Equal(target.Parameter.Size / 2, PruningTestModels.Zeros(target.Parameter.Data));
                    else                                  // per output neuron
                        for (int o = 0; o < outputs; o++)
                            Assert.Equal(inputs / 2, Enumerable.Range(0, inputs).Count(i => target.Parameter.Data[i * outputs + o] == 0f));
                }
                var pruned = Encode(model, heldOut);
                errors[score] = dense.Zip(pruned).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)) / dense.Sum(v => (double)v * v);
            }
            output.WriteLine($"{method}: held-out ‖y − ŷ‖² / ‖y‖² " + string.Join(", ", errors.Select(e => $"{e.Key} {e.Value:F4}")));
            Assert.True(errors[PruneScore.SparseGpt] < errors[PruneScore.Magnitude], "SparseGPT is not below magnitude");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingCalibrationConvWeightsAndOtherMethodsGiveOneLineErrors()
    {
        var model = PruningTestModels.Mlp("mlp:24-16-8", seed: 51);
        Assert.Equal("Wanda needs calibration data",
            Assert.Throws<CondenseException>(() => Pruner.Prune(model, new PruneOptions { Score = PruneScore.Wanda })).Message);
        Assert.Equal("SparseGPT needs calibration data",
            Assert.Throws<CondenseException>(() => Pruner.ComputeMasks(model, new PruneOptions { Score = PruneScore.SparseGpt })).Message);
        Assert.Equal("SparseGPT scores apply to magnitude and N:M pruning, not Random", Assert.Throws<CondenseException>(
            () => new PruneOptions { Score = PruneScore.SparseGpt, Method = PruneMethod.Random }.Validate()).Message);
        Assert.Single(Assert.Throws<CondenseException>(() => new PruneOptions { Score = PruneScore.Wanda, Global = true }.Validate()).Message.Split('\n'));
        Assert.Single(Assert.Throws<CondenseException>(() => new PruneOptions { Score = PruneScore.Wanda, IncludeBiases = true }.Validate())
            .Message.Split('\n'));
        var parsed = ModelSpec.Parse("lenet5");
        var lenet = new GraphModule(GraphTracer.Trace(parsed.Build(52), [parsed.InFeatures]));
        var e = Assert.Throws<CondenseException>(() => Pruner.Prune(lenet, new PruneOptions { Score = PruneScore.Wanda }, () => []));
        Assert.StartsWith("Wanda prunes MatMul/Gemm weights only: ", e.Message);
        Assert.EndsWith(" is a Conv weight; exclude it", e.Message);
    }

    private static double[] SumSquares(Tensor x)
    {
        int inputs = x.Shape[1];
        var sums = new double[inputs];
        for (int i = 0; i < x.Size; i++) sums[i % inputs] += (double)x.Data[i] * x.Data[i];
        return sums;
    }

    private static Dictionary<string, Tensor> EncoderFeed(int batch, int length, ulong seed)
    {
        var rng = new Rng(seed);
        var ids = Enumerable.Range(0, batch * length).Select(_ => (long)(rng.NextFloat() * TinyTransformer.Vocab)).ToArray();
        return new Dictionary<string, Tensor>
        {
            ["input_ids"] = Tensor.FromInt64s(ids, DataType.Int64, batch, length),
            ["attention_mask"] = Tensor.FromInt64s(Enumerable.Repeat(1L, batch * length).ToArray(), DataType.Int64, batch, length),
        };
    }

    private static float[] Encode(GraphModule model, Dictionary<string, Tensor> feed) => model.Run(feed)["last_hidden_state"].Data;

    private static Tensor Ones(int rows, int columns) => new(Enumerable.Repeat(1f, rows * columns).ToArray(), rows, columns);

    private static void AssertTwoFour(float[] values, int outputs, int inputs, Func<int, int, int> index)
    {
        for (int o = 0; o < outputs; o++)
            for (int start = 0; start < inputs; start += 4)
                Assert.Equal(2, Enumerable.Range(start, 4).Count(i => values[index(o, i)] == 0f));
    }
}
