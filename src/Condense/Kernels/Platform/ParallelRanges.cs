// Splits an index range [0, count) into one contiguous part per worker thread when the call is large
// enough to pay for the hand-off. Each index is processed by exactly one part, in the same order whatever
// the number of parts, so a kernel that keeps its sums within an index gives the same bits on any thread count.
namespace Condense.Kernels.Platform;

/// <summary>Contiguous-range fork-join over <see cref="WorkerPool"/>.</summary>
internal static class ParallelRanges
{
    /// <summary>
    /// Runs <paramref name="body"/>(first, last) over [0, count), split between threads when
    /// <paramref name="work"/> ≥ <paramref name="threshold"/>.
    /// </summary>
    public static void For(int count, long work, long threshold, Action<int, int> body)
    {
        int parts = work < threshold ? 1 : Math.Min(Cpu.Threads, count);
        if (parts <= 1) { body(0, count); return; }
        WorkerPool.Run(new RangeJob(body, count, parts), parts);
    }

    private sealed class RangeJob(Action<int, int> body, int count, int parts) : IParallelJob
    {
        public void Execute(int part) => body((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts));
    }
}
