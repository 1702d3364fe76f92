// Pruning LeNet-5, the quality bar for convolutions, in one command: train LeNet-5 with the
// default recipe on the embedded MNIST, remove 50% of the filters of both convs (6 → 3, 16 → 8; Li et
// al. 2017) and fine-tune; also half of every layer's filters/neurons, and 90% global magnitude pruning
// (unstructured). Reports accuracy before, right after pruning and after fine-tuning, and µs per forward
// of the dense and the filter-pruned models at batch 1/64/256, timed alternately in the same run after
// checking that the pruned model computes what the zero-masked dense model computes.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Bench;

internal static class PruneCnnBench
{
    private const int FinetuneEpochs = 3;

    public static int Run(string[] args)
    {
        int epochs = args.Length > 1 && args[0] == "--epochs" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 15;
        var (train, test) = Mnist.LoadEmbedded();
        var spec = Condense.Nn.ModelSpec.Parse("lenet5");
        var trained = spec.Build(0);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Trainer.Fit(trained, train, null, TrainOptions.For(spec) with { Epochs = epochs });
        var dense = new GraphModule(GraphTracer.Trace(trained, [spec.InFeatures]));
        dense.Eval();
        float baseline = Evaluator.Evaluate(dense, test).Accuracy;
        Console.WriteLine($"LeNet-5, default recipe, {epochs} epochs ({watch.Elapsed.TotalSeconds:F0} s): {baseline:P2} on {test.Count} test images");
        Console.WriteLine();

        string[] convs = ["1.weight", "4.weight"];
        int failures = CheckAgainstZeroMasking(dense, convs);
        var finetune = new TrainOptions { LearningRate = 0.01f };
        var filters = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test, new PruneRun
        {
            Structured = true, Ratio = 0.5, Options = new PruneOptions { Include = convs }, FinetuneEpochs = FinetuneEpochs, Finetune = finetune,
        });
        var everything = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test, new PruneRun
        {
            Structured = true, Ratio = 0.5, FinetuneEpochs = FinetuneEpochs, Finetune = finetune,
        });
        var unstructured = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test, new PruneRun
        {
            Options = new PruneOptions { Sparsity = 0.9, Global = true }, FinetuneEpochs = FinetuneEpochs,
            Finetune = new TrainOptions(),   // lr 0.1, as measured; the library's default for a conv model is 0.01
        });

        Console.WriteLine($"| pruning | parameters | after pruning | after {FinetuneEpochs} epochs fine-tuning | change |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        Row("50% of the filters of both convs (6 → 3, 16 → 8)", filters.Report);
        Row("50% of every layer's filters and neurons", everything.Report);
        Row("unstructured, 90% global magnitude", unstructured.Report);
        foreach (var t in filters.Report.Tensors.Where(t => !Shape.Equal(t.ShapeBefore, t.ShapeAfter)))
            Console.WriteLine($"  {t.Name}: {Shape.Format(t.ShapeBefore)} → {Shape.Format(t.ShapeAfter)}");
        Console.WriteLine();

        var pruned = filters.Model;
        var smallest = everything.Model;
        pruned.Eval();
        smallest.Eval();
        Console.WriteLine("µs per forward (best of repeated runs, measured alternately in one run)");
        Console.WriteLine();
        Console.WriteLine("| batch | dense | convs 50% | speed-up | all layers 50% | speed-up |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (int batch in new[] { 1, 64, 256 })
        {
            var x = Tensor.Uniform(new Rng(1), 0f, 1f, batch, spec.InFeatures);
            using var _ = GradMode.NoGrad();
            double tDense = double.MaxValue, tPruned = double.MaxValue, tSmallest = double.MaxValue;
            for (int round = 0; round < 5; round++)
            {
                tDense = Math.Min(tDense, Timing.MeasureSeconds(() => dense.Forward(x), 0.1));
                tPruned = Math.Min(tPruned, Timing.MeasureSeconds(() => pruned.Forward(x), 0.1));
                tSmallest = Math.Min(tSmallest, Timing.MeasureSeconds(() => smallest.Forward(x), 0.1));
            }
            Console.WriteLine($"| {batch} | {tDense * 1e6:F1} | {tPruned * 1e6:F1} | {tDense / tPruned:F2}× | " +
                $"{tSmallest * 1e6:F1} | {tDense / tSmallest:F2}× |");
        }
        return failures == 0 ? 0 : 1;

        void Row(string name, PruneReport r) =>
            Console.WriteLine($"| {name} | {r.ParametersBefore:N0} → {r.NonzeroAfter:N0} non-zero | {r.AccuracyAfterPruning:P2} | {r.FinalAccuracy:P2} | " +
                $"{(r.FinalAccuracy - baseline) * 100:+0.00;−0.00;0.00} pt |");
    }

    // Before fine-tuning, the smaller model must compute what the dense one computes with the removed
    // filters and their biases zeroed (a removed channel is 0 after ReLU and max-pooling).
    private static int CheckAgainstZeroMasking(GraphModule dense, string[] convs)
    {
        var result = StructuredPruning.Remove(dense, 0.5, include: convs);
        var zeroed = dense.Graph.Clone();
        foreach (var change in result.Changes)
        {
            string weight = change.Layers.Single();
            var node = zeroed.Nodes.Single(n => n.OpType == "Conv" && n.Inputs[1] == weight);
            foreach (var name in node.Inputs.Skip(1))
            {
                var t = zeroed.Initializers[name];
                int per = t.Size / t.Shape[0];
                foreach (int c in Enumerable.Range(0, t.Shape[0]).Except(change.Kept)) Array.Clear(t.Data, c * per, per);
            }
        }
        var oracle = new GraphModule(zeroed);
        oracle.Eval();
        result.Model.Eval();
        var x = Tensor.Uniform(new Rng(2), 0f, 1f, 64, 784);
        using var _ = GradMode.NoGrad();
        var expected = oracle.Forward(x).Data;
        var actual = result.Model.Forward(x).Data;
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a) / (1 + Math.Abs(e))).Max();
        Console.WriteLine($"filter-pruned vs zero-masked dense logits: max relative difference {worst:E1}");
        return worst <= 1e-4 ? 0 : 1;
    }
}
