// The processes of one run and what they do together: sums, maxima and minima over every rank, a broadcast, a barrier.
// One process is a communicator of size 1 whose collectives return their input, so every caller is written once for
// both. Results are the same on every rank, in an order fixed by the MPI library for a given size, so N ranks agree
// with each other bit for bit; whether they agree with one process depends on what was split (see docs/scale-out.md).
namespace Condense.Distributed;

/// <summary>The reduction of a collective.</summary>
public enum ReduceOp { Sum, Max, Min }

/// <summary>A rank reported that it failed; thrown on rank 0, whose message names that rank and its error.</summary>
public sealed class RankFailedException(int rank, string message) : CondenseException($"rank {rank} failed: {message}")
{
    /// <summary>The rank that failed.</summary>
    public int Rank { get; } = rank;
}

/// <summary>The ranks of a run (one process, or the processes mpirun started) and their collectives.</summary>
public abstract class Communicator
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> − 1.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of ranks.</summary>
    public abstract int Size { get; }

    /// <summary>Whether this is rank 0, the one that prints and writes outputs.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Whether more than one process takes part.</summary>
    public bool IsDistributed => Size > 1;

    /// <summary>Replaces every element by its reduction over all ranks (all ranks pass the same length).</summary>
    public abstract void AllReduce(Span<float> values, ReduceOp op = ReduceOp.Sum);

    /// <inheritdoc cref="AllReduce(Span{float}, ReduceOp)"/>
    public abstract void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum);

    /// <inheritdoc cref="AllReduce(Span{float}, ReduceOp)"/>
    public abstract void AllReduce(Span<long> values, ReduceOp op = ReduceOp.Sum);

    /// <summary>Copies <paramref name="root"/>'s bytes into every rank's <paramref name="bytes"/> (the same length everywhere).</summary>
    public abstract void Broadcast(Span<byte> bytes, int root = 0);

    /// <summary>Returns when every rank has called it (or throws the failure of a rank that cannot).</summary>
    public void Barrier() => AllReduce(stackalloc long[1]);

    /// <summary>
    /// Tells rank 0 that this rank failed with <paramref name="message"/> and waits to be ended by it; returns at once on
    /// rank 0 and in a single process, where the caller reports the error itself.
    /// </summary>
    public abstract void ReportFailure(string message);

    /// <summary>Ends every rank of the run with <paramref name="exitCode"/> (MPI_Abort); nothing in a single process.</summary>
    public abstract void Abort(int exitCode);

    /// <summary>Ends the run's communication normally; every rank calls it once, last.</summary>
    public abstract void Finish();

    /// <summary>The contiguous part [start, start + length) of <paramref name="count"/> items that this rank takes.</summary>
    public (int Start, int Length) Shard(int count) => Shard(count, Rank, Size);

    /// <summary>
    /// Rank <paramref name="rank"/>'s part of <paramref name="count"/> items split as evenly as possible over
    /// <paramref name="size"/> ranks, in rank order (the first count mod size ranks take one more).
    /// </summary>
    public static (int Start, int Length) Shard(int count, int rank, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, size);
        int baseLength = count / size, extra = count % size;
        int start = rank * baseLength + Math.Min(rank, extra);
        return (start, baseLength + (rank < extra ? 1 : 0));
    }

    /// <summary>
    /// One table of rows computed by shares, on every rank: each rank passes its rows in their places (zeros elsewhere;
    /// null when it computed none) and the width it saw (0 when none); returns the table summed over the ranks and the
    /// width. Exact, since every place holds one rank's value and zeros.
    /// </summary>
    public (float[] Table, int Width) SumRows(float[]? table, int rows, int width)
    {
        if (!IsDistributed) return (table ?? [], width);
        Span<long> agreed = [width];
        AllReduce(agreed, ReduceOp.Max);
        width = (int)agreed[0];
        table ??= new float[rows * width];
        AllReduce(table);
        return (table, width);
    }

    /// <summary>Whether item <paramref name="index"/> of a round-robin hand-out (layers, configurations, batches) is this rank's.</summary>
    public bool Owns(int index) => index % Size == Rank;

    /// <summary>
    /// Checks that every rank holds the same <paramref name="fingerprint"/> of <paramref name="what"/> (a model's weights,
    /// a data set): a rank whose value differs from rank 0's fails with a line that says so.
    /// </summary>
    public void CheckSame(string what, long fingerprint)
    {
        if (!IsDistributed) return;
        Span<byte> root = stackalloc byte[8];
        BitConverter.TryWriteBytes(root, fingerprint);
        Broadcast(root);
        long expected = BitConverter.ToInt64(root);
        if (expected != fingerprint) ReportFailure($"its {what} differs from rank 0's (fingerprint {fingerprint:x16}, rank 0 has {expected:x16})");
        Barrier();
    }
}

/// <summary>A run of one process: every collective returns its input.</summary>
public sealed class SingleProcess : Communicator
{
    /// <summary>The one instance.</summary>
    public static SingleProcess Instance { get; } = new();

    private SingleProcess() { }

    /// <inheritdoc/>
    public override int Rank => 0;

    /// <inheritdoc/>
    public override int Size => 1;

    /// <inheritdoc/>
    public override void AllReduce(Span<float> values, ReduceOp op = ReduceOp.Sum) { }

    /// <inheritdoc/>
    public override void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum) { }

    /// <inheritdoc/>
    public override void AllReduce(Span<long> values, ReduceOp op = ReduceOp.Sum) { }

    /// <inheritdoc/>
    public override void Broadcast(Span<byte> bytes, int root = 0) { }

    /// <inheritdoc/>
    public override void ReportFailure(string message) { }

    /// <inheritdoc/>
    public override void Abort(int exitCode) { }

    /// <inheritdoc/>
    public override void Finish() { }
}
