// Data-parallel training over the ranks of World.Current (one process: every call is a no-op or the identity). Each
// rank runs its share of every global batch; the gradients, scaled by the share, are summed over the ranks
// (GradientAllReduce), so every rank takes the same optimizer step on the same weights. Batch norm running statistics
// are averaged across ranks at the end of each epoch; ranks check that they start from the same weights and data.
using Condense.Data;
using Condense.Distributed;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Training;

/// <summary>What data-parallel loops share: shards of batches, the gradient all-reduce, agreement checks.</summary>
public static class DataParallel
{

    /// <summary>This rank's rows of a global batch (the whole batch in one process).</summary>
    public static Batch Shard(Batch batch, Communicator world) => Shard(batch, world, null);

    /// <summary>
    /// This rank's rows of a global batch, its features made by <paramref name="features"/>(start, count) from the rows it
    /// takes when given (an augmentation that draws for the whole batch and builds this rank's rows only), else copied.
    /// </summary>
    internal static Batch Shard(Batch batch, Communicator world, Func<int, int, Tensor>? features)
    {
        if (!world.IsDistributed) return features is null ? batch : batch with { Features = features(0, batch.Count) };
        var (start, length) = world.Shard(batch.Count);
        int[] labels = batch.Labels.Length == 0 ? [] : batch.Labels.AsSpan(start, length).ToArray();
        return new Batch(features?.Invoke(start, length) ?? Rows(batch, start, length), labels, batch.Indices.AsSpan(start, length).ToArray());
    }

    // A copy of rows [start, start + length) of the batch's features.
    private static Tensor Rows(Batch batch, int start, int length)
    {
        int rowSize = batch.Count == 0 ? 0 : batch.Features.Size / batch.Count;
        var shape = (int[])batch.Features.Shape.Clone();
        shape[0] = length;
        return new Tensor(batch.Features.Data.AsSpan(start * rowSize, length * rowSize).ToArray(), shape);
    }

    /// <summary>
    /// Sums the gradients of <paramref name="parameters"/> over the ranks, each rank's scaled by <paramref name="share"/>
    /// (its rows over the global batch's), and <paramref name="sums"/> (e.g. loss and correct counts) as they are.
    /// </summary>
    public static void AllReduceGradients(IReadOnlyList<Tensor> parameters, float share, Span<float> sums, Communicator world)
    {
        if (world.IsDistributed) GradientAllReduce.Run(parameters, share, sums, world);
    }

    /// <summary>Averages the module's buffers (batch norm running statistics) over the ranks.</summary>
    public static void AverageBuffers(Module model, Communicator world)
    {
        if (!world.IsDistributed) return;
        foreach (var (_, buffer) in model.NamedBuffers())
        {
            if (buffer.DataType != DataType.Float32) continue;
            world.AllReduce(buffer.Data.AsSpan(0, buffer.Size));
            System.Numerics.Tensors.TensorPrimitives.Multiply(buffer.Data.AsSpan(0, buffer.Size), 1f / world.Size, buffer.Data.AsSpan(0, buffer.Size));
            buffer.MarkModified();
        }
    }

    /// <summary>Fails the run unless every rank holds the same weights of <paramref name="model"/> (named <paramref name="what"/>).</summary>
    public static void CheckModel(Module model, string what, Communicator world)
    {
        if (!world.IsDistributed) return;
        ulong weights = Fingerprint.Seed;
        foreach (var (_, p) in model.NamedParameters()) weights = Fingerprint.Add(weights, p.Data.AsSpan(0, p.Size));
        foreach (var (_, b) in model.NamedBuffers()) weights = Fingerprint.Add(weights, b.Data.AsSpan(0, b.Size));
        world.CheckSame(what, (long)weights);
    }

    /// <summary>Fails the run unless every rank starts from the same weights and the same data (a 64-bit fingerprint of each).</summary>
    public static void CheckAgreement(Module model, Dataset data, Communicator world)
    {
        if (!world.IsDistributed) return;
        CheckModel(model, "model", world);
        ulong rows = Fingerprint.Add(Fingerprint.Seed, data.Features);
        if (data.Labels is { } labels) rows = Fingerprint.Add(rows, labels);
        world.CheckSame($"data ({data.Count} samples of {data.Name})", (long)rows);
    }
}
