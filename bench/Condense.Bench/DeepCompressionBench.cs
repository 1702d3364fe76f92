// Deep Compression (Han et al. 2016) on LeNet-300-100, end to end in one command: train with the
// default recipe, prune globally by magnitude with 3 epochs of masked fine-tuning, share each layer's
// weights among 2^5 k-means centroids (linear initialisation) with 2 epochs of centroid fine-tuning,
// then count the stored bits: sparse index gaps + 5-bit indices + codebooks, and their Huffman codes.
using Condense.Data;
using Condense.DeepCompression;
using Condense.Graph;
using Condense.Pruning;
using Condense.Quantization;
using Condense.Training;

namespace Condense.Bench;

internal static class DeepCompressionBench
{
    public static int Run(string[] args)
    {
        var (train, test) = Mnist.LoadEmbedded();
        var net = Condense.Nn.ModelSpec.Parse("mlp:784-300-100-10").Build(0);
        Trainer.Fit(net, train, null, new TrainOptions());
        var dense = new GraphModule(GraphTracer.Trace(net, train.SampleShape));
        float baseline = Evaluator.Evaluate(dense, test).Accuracy;
        Console.WriteLine($"LeNet-300-100, default recipe: {baseline:P2}; weights {dense.ParameterCount():N0} parameters");
        Console.WriteLine();
        Console.WriteLine("| pruning | bits | accuracy | change | pruned size | + weight sharing | + Huffman | ratio (weights) | ratio (with fp32 biases) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var sparsity in new[] { 0.92, 0.95 })
        {
            var (model, _) = PrunePipeline.Apply(new GraphModule(dense.Graph.Clone()), train, test,
                new PruneRun { Options = new PruneOptions { Sparsity = sparsity, Global = true }, FinetuneEpochs = 3 });
            var shared = WeightSharing.Apply(model, bits: 5);
            Trainer.Fit(model, train, null, new TrainOptions { Epochs = 2, LearningRate = 0.01f }, hooks: shared.Hooks(CentroidGradient.Mean));
            float accuracy = Evaluator.Evaluate(model, test).Accuracy;
            var sizes = CompressionSizes.Measure(shared);
            long biases = model.NamedParameters().Where(p => p.Parameter.Rank == 1).Sum(p => p.Parameter.Size) * 4L;
            Console.WriteLine($"| {sparsity:P0} | 5 | {accuracy:P2} | {(accuracy - baseline) * 100:+0.00;−0.00} pt | " +
                $"{sizes.PrunedBytes:N0} B | {sizes.QuantizedBytes:N0} B | {sizes.HuffmanBytes:N0} B | {sizes.HuffmanRatio:F1}× | " +
                $"{(double)(sizes.DenseBytes + biases) / (sizes.HuffmanBytes + biases):F1}× |");
        }
        return 0;
    }
}
