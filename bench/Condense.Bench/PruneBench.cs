// What pruning buys at inference, measured in one run on LeNet-300-100 trained for 3 epochs on the
// embedded MNIST (so the weights have a trained model's spread, which decides how global pruning
// spreads sparsity over the layers): the dense model; the model 90% pruned by global magnitude and
// 90% per layer, both run through the engine's automatic sparse kernel; and the model with 50% of
// its hidden neurons removed. All are timed alternately, best of repeated runs, after their outputs
// are checked against the zero-masked dense computation.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Pruning;
using Condense.Tensors;

namespace Condense.Bench;

internal static class PruneBench
{
    public static int Run(string[] args)
    {
        var (train, _) = Condense.Data.Mnist.LoadEmbedded();
        var trained = ModelSpec.Parse("mlp:784-300-100-10").Build(7);
        Condense.Training.Trainer.Fit(trained, train, null, new Condense.Training.TrainOptions { Epochs = 3 });
        var dense = new GraphModule(GraphTracer.Trace(trained, [784]));
        dense.Eval();
        GraphModule Pruned(bool global)
        {
            var model = new GraphModule(dense.Graph.Clone());
            model.Eval();
            var masks = Pruner.Prune(model, new PruneOptions { Sparsity = 0.9, Global = global });
            Console.WriteLine($"90% {(global ? "global" : "per layer")}: " +
                string.Join(", ", masks.Entries.Select(e => $"{e.Target.Name} {Masks.Sparsity(e.Mask):P1}")));
            return model;
        }
        var sparse = Pruned(global: true);
        var uniform = Pruned(global: false);
        var structured = StructuredPruning.Remove(dense, 0.5).Model;
        structured.Eval();

        Console.WriteLine("LeNet-300-100 inference, µs per forward (best of repeated runs, measured alternately in one run)");
        Console.WriteLine();
        Console.WriteLine("| batch | dense | 90% global | speed-up | 90% per layer | speed-up | 50% neurons removed | speed-up |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        int failures = 0;
        foreach (int batch in new[] { 1, 64, 256 })
        {
            var x = Tensor.Uniform(new Rng(1), 0f, 1f, batch, 784);
            using var _ = GradMode.NoGrad();
            // Check first: the sparse path must give the zero-masked dense computation's answer.
            foreach (var model in new[] { sparse, uniform })
            {
                var expected = Dense(model, x).Data;
                var actual = model.Forward(x).Data;
                double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a) / (1 + Math.Abs(e))).Max();
                if (worst > 1e-4) { Console.WriteLine($"batch {batch}: sparse output differs from dense by {worst:E2}"); failures++; }
            }

            double tDense = double.MaxValue, tSparse = double.MaxValue, tUniform = double.MaxValue, tStructured = double.MaxValue;
            for (int round = 0; round < 5; round++)
            {
                tDense = Math.Min(tDense, Timing.MeasureSeconds(() => dense.Forward(x), 0.1));
                tSparse = Math.Min(tSparse, Timing.MeasureSeconds(() => sparse.Forward(x), 0.1));
                tUniform = Math.Min(tUniform, Timing.MeasureSeconds(() => uniform.Forward(x), 0.1));
                tStructured = Math.Min(tStructured, Timing.MeasureSeconds(() => structured.Forward(x), 0.1));
            }
            Console.WriteLine($"| {batch} | {tDense * 1e6:F1} | {tSparse * 1e6:F1} | {tDense / tSparse:F2}× | " +
                $"{tUniform * 1e6:F1} | {tDense / tUniform:F2}× | {tStructured * 1e6:F1} | {tDense / tStructured:F2}× |");
        }
        return failures == 0 ? 0 : 1;
    }

    // The zero-masked weights forced through the dense kernels, as the reference.
    private static Tensor Dense(GraphModule model, Tensor x)
    {
        using var _ = SparseInference.Disable();
        return model.Forward(x);
    }
}
