// The weight-sharing pass (Deep Compression): cluster each layer's weights into 2^b shared values,
// fine-tune the centroids, measure (through the shared CompressionRun), and count the Deep Compression
// sizes (sparse index gaps, b-bit indices and codebooks, and their Huffman codes). The caller saves: a
// .safetensors file stores the shared tensors packed (ModelFile.SaveShared), so the file really shrinks.
using System.Text.Json.Serialization;
using Condense.Data;
using Condense.Graph;
using Condense.Training;

namespace Condense.DeepCompression;

/// <summary>Options of the weight-sharing pass, validated once.</summary>
public sealed record WeightSharingOptions
{
    /// <summary>Index bits: 2^Bits shared values per layer, <see cref="WeightSharing.MinBits"/>–<see cref="WeightSharing.MaxBits"/>.</summary>
    public int Bits { get; init; } = 5;
    /// <summary>Epochs of centroid fine-tuning; 0 for none.</summary>
    public int FinetuneEpochs { get; init; } = 2;
    /// <summary>The fine-tuning recipe (its Epochs is replaced by <see cref="FinetuneEpochs"/>); null: the training recipe at lr 0.01.</summary>
    public TrainOptions? Finetune { get; init; }

    /// <summary>The fine-tuning learning rate when <see cref="Finetune"/> is null.</summary>
    public const float DefaultLearningRate = 0.01f;

    /// <summary>Throws a one-line error for out-of-range options.</summary>
    public WeightSharingOptions Validate()
    {
        if (Bits is < WeightSharing.MinBits or > WeightSharing.MaxBits)
            throw new CondenseException($"bits must be in {WeightSharing.MinBits}..{WeightSharing.MaxBits}, got {Bits}");
        if (FinetuneEpochs < 0) throw new CondenseException($"fine-tune epochs must not be negative, got {FinetuneEpochs}");
        return this;
    }
}

/// <summary>
/// The outcome of a weight-sharing run. The pass leaves <see cref="FileBytes"/> at 0; the caller that saves sets it.
/// Its JSON (ReportJson) is what `condense share --json` prints.
/// </summary>
public sealed record WeightSharingReport(int Bits, [property: JsonIgnore] float AccuracyBefore, [property: JsonIgnore] float AccuracyAfterSharing,
    [property: JsonIgnore] float? AccuracyAfterFinetuning, [property: JsonIgnore] int FinetuneEpochs, [property: JsonIgnore] CompressionSizes Sizes,
    [property: JsonIgnore] long BiasBytes, [property: JsonIgnore] long FileBytes, [property: JsonIgnore] double Seconds)
{
    /// <summary>The tensors stored as codebook + indices (what <c>ModelFile.SaveShared</c> packs).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> SharedTensors { get; init; } = [];

    /// <summary>The accuracy of the saved model.</summary>
    [JsonPropertyName("accuracy"), JsonPropertyOrder(1)]
    public float FinalAccuracy => AccuracyAfterFinetuning ?? AccuracyAfterSharing;

    /// <summary>fp32 size over Huffman-coded size, counting the float biases on both sides.</summary>
    [JsonPropertyName("compression_ratio_with_biases"), JsonPropertyOrder(11)]
    public double RatioWithBiases => (double)(Sizes.DenseBytes + BiasBytes) / (Sizes.HuffmanBytes + BiasBytes);

    /// <summary>Every parameter as float32: the shared weights' dense size plus the other parameters.</summary>
    [JsonPropertyName("float32_bytes"), JsonPropertyOrder(13)]
    public long Float32Bytes => Sizes.DenseBytes + BiasBytes;

    /// <summary>Float32 parameters over the bytes of the saved file (0 when nothing was saved).</summary>
    [JsonPropertyName("file_compression_ratio"), JsonPropertyOrder(14)]
    public double FileRatio => FileBytes == 0 ? 0 : (double)Float32Bytes / FileBytes;

    // The JSON keys `condense share --json` has always printed, in its order.
    [JsonInclude, JsonPropertyName("accuracy_before"), JsonPropertyOrder(2)] internal float JsonAccuracyBefore => AccuracyBefore;
    [JsonInclude, JsonPropertyName("accuracy_after_sharing"), JsonPropertyOrder(3)] internal float JsonAccuracyAfterSharing => AccuracyAfterSharing;
    [JsonInclude, JsonPropertyName("accuracy_after_finetuning"), JsonPropertyOrder(4)]
    internal float? JsonAccuracyAfterFinetuning => AccuracyAfterFinetuning;
    [JsonInclude, JsonPropertyName("dense_bytes"), JsonPropertyOrder(5)] internal long JsonDenseBytes => Sizes.DenseBytes;
    [JsonInclude, JsonPropertyName("pruned_bytes"), JsonPropertyOrder(6)] internal long JsonPrunedBytes => Sizes.PrunedBytes;
    [JsonInclude, JsonPropertyName("shared_bytes"), JsonPropertyOrder(7)] internal long JsonSharedBytes => Sizes.QuantizedBytes;
    [JsonInclude, JsonPropertyName("huffman_bytes"), JsonPropertyOrder(8)] internal long JsonHuffmanBytes => Sizes.HuffmanBytes;
    [JsonInclude, JsonPropertyName("compression_ratio"), JsonPropertyOrder(9)] internal double JsonCompressionRatio => Sizes.HuffmanRatio;
    [JsonInclude, JsonPropertyName("file_bytes"), JsonPropertyOrder(12)] internal long JsonFileBytes => FileBytes;
}

/// <summary>The weight-sharing pass.</summary>
public static class WeightSharingPipeline
{
    /// <summary>
    /// Shares <paramref name="model"/>'s weights (in place) among 2^Bits values per layer, fine-tunes the centroids (mean
    /// cluster gradient) on <paramref name="train"/>, evaluates on <paramref name="test"/> and counts the Deep Compression sizes.
    /// </summary>
    public static (GraphModule Model, WeightSharingReport Report) Apply(GraphModule model, Dataset train, Dataset test, WeightSharingOptions options,
        IProgress<TrainProgress>? progress = null)
    {
        options.Validate();
        QuantizedWeights.ThrowIfQuantized(model.Graph);   // before measuring: say so at once
        var recipe = options.Finetune ?? new TrainOptions { LearningRate = WeightSharingOptions.DefaultLearningRate };
        var finetune = recipe with { Epochs = options.FinetuneEpochs };
        var (_, shared, measures) = CompressionRun.Run(model, test,
            (m, _) => new PassStep<GraphModule, WeightSharingResult>(m, WeightSharing.Apply(m, options.Bits)),
            (m, s) => Trainer.Fit(m, train, null, finetune, progress, s.Hooks(CentroidGradient.Mean)), options.FinetuneEpochs);
        var sharedNames = shared.Entries.Select(e => e.Target.Name).ToList();
        var sharedSet = sharedNames.ToHashSet();
        long biasBytes = model.NamedParameters().Where(p => !sharedSet.Contains(p.Name)).Sum(p => 4L * p.Parameter.Size);
        var report = new WeightSharingReport(options.Bits, measures.AccuracyBefore, measures.AccuracyAfterPass, measures.AccuracyAfterFinetuning,
            options.FinetuneEpochs, CompressionSizes.Measure(shared), biasBytes, 0, measures.Seconds) { SharedTensors = sharedNames };
        return (model, report);
    }
}
