// Mini-batches over a Dataset for training and evaluation. Shuffling is deterministic: epoch e of a
// loader with seed s always visits the samples in the same order, so runs are reproducible and an
// interrupted run can resume at any epoch.
using Condense.Tensors;

namespace Condense.Data;

/// <summary>One mini-batch: flat features (n × FeatureSize), labels (empty if unlabelled) and the sample indices.</summary>
public readonly record struct Batch(Tensor Features, int[] Labels, int[] Indices)
{
    /// <summary>The number of samples in the batch.</summary>
    public int Count => Indices.Length;
}

/// <summary>Splits a <see cref="Dataset"/> into mini-batches, optionally shuffled per epoch.</summary>
public sealed class DataLoader : IEnumerable<Batch>
{
    private int _nextEpoch;

    /// <summary>Creates a loader; <paramref name="dropLast"/> skips a final batch smaller than <paramref name="batchSize"/>.</summary>
    public DataLoader(Dataset data, int batchSize, bool shuffle, ulong seed, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Data = data;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
    }

    /// <summary>The data set batched over.</summary>
    public Dataset Data { get; }

    /// <summary>Samples per batch (the last batch may be smaller unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the samples in a fresh random order.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed from which every epoch's order is derived.</summary>
    public ulong Seed { get; }

    /// <summary>Whether a final, smaller batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => DropLast ? Data.Count / BatchSize : (Data.Count + BatchSize - 1) / BatchSize;

    /// <summary>The sample order of <paramref name="epoch"/>: 0..Count-1, shuffled from (Seed, epoch) if <see cref="Shuffle"/>.</summary>
    public int[] Order(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var order = new int[Data.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (Shuffle) new Rng(EpochSeed(Seed, epoch)).Shuffle(order.AsSpan());
        return order;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>; the same (seed, epoch) always gives the same batches.</summary>
    public IEnumerable<Batch> Epoch(int epoch) => Batches(Order(epoch)); // validates epoch eagerly

    private IEnumerable<Batch> Batches(int[] order)
    {
        for (int b = 0; b < BatchCount; b++)
        {
            int[] indices = order[(b * BatchSize)..Math.Min(order.Length, (b + 1) * BatchSize)];
            yield return new Batch(Data.Samples(indices), Data.Labels is null ? [] : Data.BatchLabels(indices), indices);
        }
    }

    /// <summary>
    /// The batches of the next epoch: the first enumeration is epoch 0, the second epoch 1, and so on,
    /// so <c>foreach</c> in a training loop reshuffles every time.
    /// </summary>
    public IEnumerator<Batch> GetEnumerator() => Epoch(Interlocked.Increment(ref _nextEpoch) - 1).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    // Epoch seeds must differ even for adjacent (seed, epoch) pairs, so hash rather than add: mix the
    // seed with the SplitMix64 finaliser, xor in the epoch, and mix again.
    private static ulong EpochSeed(ulong seed, int epoch) => Mix(Mix(seed) ^ (ulong)epoch);

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
