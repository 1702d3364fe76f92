// Weight sharing as a run, as the CLI's `share` command does it: cluster each layer's weights into
// 2^b shared values, fine-tune the centroids, measure, save, and count the Deep Compression sizes
// (sparse index gaps, b-bit indices and codebooks, and their Huffman codes). A .safetensors output stores
// the shared tensors packed (codebook + b-bit indices, SparseStorage), so the file really shrinks.
using Condense.Formats;
using System.Diagnostics;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Training;

namespace Condense.DeepCompression;

/// <summary>The outcome of a weight-sharing run.</summary>
public sealed record WeightSharingReport(int Bits, float AccuracyBefore, float AccuracyAfterSharing, float? AccuracyAfterFinetuning,
    int FinetuneEpochs, CompressionSizes Sizes, long BiasBytes, long FileBytes, double Seconds)
{
    /// <summary>The accuracy of the saved model.</summary>
    public float FinalAccuracy => AccuracyAfterFinetuning ?? AccuracyAfterSharing;

    /// <summary>fp32 size over Huffman-coded size, counting the float biases on both sides.</summary>
    public double RatioWithBiases => (double)(Sizes.DenseBytes + BiasBytes) / (Sizes.HuffmanBytes + BiasBytes);

    /// <summary>Every parameter as float32: the shared weights' dense size plus the other parameters.</summary>
    public long Float32Bytes => Sizes.DenseBytes + BiasBytes;

    /// <summary>Float32 parameters over the bytes of the saved file (0 when nothing was saved).</summary>
    public double FileRatio => FileBytes == 0 ? 0 : (double)Float32Bytes / FileBytes;
}

/// <summary>Runs weight sharing end to end.</summary>
public static class WeightSharingPipeline
{
    /// <summary>
    /// Shares <paramref name="model"/>'s weights (in place) among 2^<paramref name="bits"/> values per layer,
    /// fine-tunes the centroids for <paramref name="finetuneEpochs"/> epochs (mean cluster gradient, as
    /// <paramref name="finetune"/> says), evaluates, and saves to <paramref name="output"/> if given: a .safetensors
    /// file with each shared tensor as its codebook and bit-packed indices, an .onnx file with float weights.
    /// </summary>
    public static WeightSharingReport Run(GraphModule model, Dataset train, Dataset test, int bits, int finetuneEpochs,
        TrainOptions? finetune = null, string? output = null, IProgress<TrainProgress>? progress = null)
    {
        if (finetuneEpochs < 0) throw new CondenseException($"fine-tune epochs must not be negative, got {finetuneEpochs}");
        QuantizedWeights.ThrowIfQuantized(model.Graph);   // before measuring: say so at once
        var watch = Stopwatch.StartNew();
        float before = Evaluator.Evaluate(model, test).Accuracy;
        var shared = WeightSharing.Apply(model, bits);
        float afterSharing = Evaluator.Evaluate(model, test).Accuracy;
        float? afterFinetuning = null;
        if (finetuneEpochs > 0)
        {
            var options = (finetune ?? new TrainOptions { LearningRate = 0.01f }) with { Epochs = finetuneEpochs };
            Trainer.Fit(model, train, null, options, progress, shared.Hooks(CentroidGradient.Mean));
            afterFinetuning = Evaluator.Evaluate(model, test).Accuracy;
        }
        var sharedNames = shared.Entries.Select(e => e.Target.Name).ToHashSet();
        long fileBytes = 0;
        if (output is not null)
        {
            if (ModelFile.IsOnnx(output)) ModelFile.Save(model.Graph, output);
            else Checkpoint.Save(model.Graph, output, codebook: sharedNames);
            fileBytes = new FileInfo(output).Length;
        }
        long biasBytes = model.NamedParameters().Where(p => !sharedNames.Contains(p.Name)).Sum(p => 4L * p.Parameter.Size);
        return new WeightSharingReport(bits, before, afterSharing, afterFinetuning, finetuneEpochs, CompressionSizes.Measure(shared),
            biasBytes, fileBytes, watch.Elapsed.TotalSeconds);
    }
}
