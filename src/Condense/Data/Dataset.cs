// A labelled data set held in memory: one float32 feature vector per sample (row-major, shaped by
// SampleShape) and an integer class label. Loaders (IDX, CSV, NPY) all produce this.
using Condense.Tensors;

namespace Condense.Data;

/// <summary>Samples as a dense (Count × FeatureSize) float matrix plus class labels.</summary>
public sealed class Dataset
{
    /// <summary>Creates a data set. <paramref name="labels"/> may be null for unlabelled data.</summary>
    public Dataset(float[] features, int[]? labels, int[] sampleShape, string name = "data")
    {
        int featureSize = Shape.Size(sampleShape);
        if (featureSize == 0 || features.Length % featureSize != 0)
            throw new ArgumentException($"{features.Length} features do not divide into samples of shape {Shape.Format(sampleShape)}");
        Count = features.Length / featureSize;
        if (labels is not null && labels.Length != Count)
            throw new ArgumentException($"{Count} samples but {labels.Length} labels");
        Features = features;
        Labels = labels;
        SampleShape = (int[])sampleShape.Clone();
        FeatureSize = featureSize;
        Name = name;
        NumClasses = labels is { Length: > 0 } ? labels.Max() + 1 : 0;
    }

    /// <summary>All features, sample after sample.</summary>
    public float[] Features { get; }

    /// <summary>Class labels, one per sample, or null when the data is unlabelled.</summary>
    public int[]? Labels { get; }

    /// <summary>The shape of one sample, e.g. [1, 28, 28] for MNIST images.</summary>
    public int[] SampleShape { get; }

    /// <summary>Elements per sample.</summary>
    public int FeatureSize { get; }

    /// <summary>Number of samples.</summary>
    public int Count { get; }

    /// <summary>One more than the largest label (0 when unlabelled).</summary>
    public int NumClasses { get; }

    /// <summary>Where the data came from, for reports.</summary>
    public string Name { get; }

    /// <summary>The features of the given samples as a (n × FeatureSize) tensor.</summary>
    public Tensor Batch(ReadOnlySpan<int> indices)
    {
        var batch = Tensor.Uninitialized(indices.Length, FeatureSize);
        for (int i = 0; i < indices.Length; i++)
            Features.AsSpan(indices[i] * FeatureSize, FeatureSize).CopyTo(batch.Data.AsSpan(i * FeatureSize, FeatureSize));
        return batch;
    }

    /// <summary>
    /// The given samples as an (n, …SampleShape) tensor, as PyTorch's DataLoader stacks them: what models are fed, so one
    /// whose input has free dimensions (an image model of any height and width) receives images, not flat rows.
    /// </summary>
    public Tensor Samples(ReadOnlySpan<int> indices) => Batch(indices).Reshape([indices.Length, .. SampleShape]);

    /// <summary>The labels of the given samples.</summary>
    public int[] BatchLabels(ReadOnlySpan<int> indices)
    {
        if (Labels is null) throw new CondenseException($"{Name} has no labels");
        var result = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++) result[i] = Labels[indices[i]];
        return result;
    }

    /// <summary>
    /// The samples in order as batches fed to the model input <paramref name="input"/>, <paramref name="batchSize"/> at a time:
    /// what calibration reads.
    /// </summary>
    public IEnumerable<IReadOnlyDictionary<string, Tensor>> Feeds(string input, int batchSize)
    {
        if (batchSize < 1) throw new CondenseException($"batch size must be at least 1, got {batchSize}");
        var indices = Enumerable.Range(0, Count).ToArray();
        for (int start = 0; start < Count; start += batchSize)
            yield return new Dictionary<string, Tensor> { [input] = Samples(indices.AsSpan(start, Math.Min(batchSize, Count - start))) };
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order, with their labels.</summary>
    public Dataset Select(int[] indices) => new(Batch(indices).Data, Labels is { } l ? [.. indices.Select(i => l[i])] : null, SampleShape, Name);

    /// <summary>The first <paramref name="count"/> samples (or all, if fewer).</summary>
    public Dataset Take(int count)
    {
        int n = Math.Min(count, Count);
        return new Dataset(Features[..(n * FeatureSize)], Labels?[..n], SampleShape, Name);
    }
}
