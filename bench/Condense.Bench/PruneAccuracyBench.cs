// The pruning quality table of the pruning issue, reproducible in one command: LeNet-300-100 trained
// with the default recipe (15 epochs), then pruned globally by magnitude at 50–98% — accuracy right
// after pruning, after 3 epochs of masked fine-tuning, and with AGP over the same 3 epochs — plus
// random pruning at 90% (the baseline) and structured removal of half the hidden neurons.
using Condense.Data;
using Condense.Graph;
using Condense.Pruning;
using Condense.Training;

namespace Condense.Bench;

internal static class PruneAccuracyBench
{
    public static int Run(string[] args)
    {
        var (train, test) = Mnist.LoadEmbedded();
        var trained = Condense.Nn.ModelSpec.Parse("mlp:784-300-100-10").Build(0);
        Trainer.Fit(trained, train, null, new TrainOptions());
        var dense = new GraphModule(GraphTracer.Trace(trained, train.SampleShape));
        float baseline = Evaluator.Evaluate(dense, test).Accuracy;
        Console.WriteLine($"LeNet-300-100, default recipe, 15 epochs: {baseline:P2} on {test.Count} test images");
        Console.WriteLine();
        Console.WriteLine("| pruning | weight sparsity | after pruning | after 3 epochs fine-tuning | change | AGP, 3 epochs | change |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var sparsity in new[] { 0.5, 0.8, 0.9, 0.95, 0.98 })
            Row($"global magnitude {sparsity:P0}", new PruneOptions { Sparsity = sparsity, Global = true }, agp: true);
        Row("global random 90%", new PruneOptions { Method = PruneMethod.Random, Sparsity = 0.9, Global = true }, agp: false);
        Row("2:4 semi-structured", new PruneOptions { Method = PruneMethod.NM, N = 2, M = 4 }, agp: false);

        var structured = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test,
            new PruneRun { Structured = true, Ratio = 0.5, FinetuneEpochs = 3, Finetune = new TrainOptions { LearningRate = 0.01f } }).Report;
        Console.WriteLine($"| structured, 50% of hidden neurons ({structured.ParametersBefore:N0} → {structured.ParametersAfter:N0} parameters) | – | " +
            $"{structured.AccuracyAfterPruning:P2} | {structured.FinalAccuracy:P2} | {Points(structured.FinalAccuracy - baseline)} | – | – |");
        return 0;

        void Row(string name, PruneOptions options, bool agp)
        {
            var oneShot = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test, new PruneRun { Options = options, FinetuneEpochs = 3 }).Report;
            string gradual = "–", gradualChange = "–";
            if (agp)
            {
                var g = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test,
                    new PruneRun { Options = options, Schedule = PruneSchedule.Agp, FinetuneEpochs = 3 }).Report;
                gradual = $"{g.FinalAccuracy:P2}";
                gradualChange = Points(g.FinalAccuracy - baseline);
            }
            double weightSparsity = 1 - (double)oneShot.Tensors.Where(t => t.ShapeAfter.Length == 2).Sum(t => t.NonzeroAfter)
                / oneShot.Tensors.Where(t => t.ShapeAfter.Length == 2).Sum(t => t.Parameters);
            Console.WriteLine($"| {name} | {weightSparsity:P2} | {oneShot.AccuracyAfterPruning:P2} | {oneShot.FinalAccuracy:P2} | " +
                $"{Points(oneShot.FinalAccuracy - baseline)} | {gradual} | {gradualChange} |");
        }
    }

    private static string Points(float delta) => $"{delta * 100:+0.00;−0.00;0.00} pt";
}
