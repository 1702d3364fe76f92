using Condense.Distributed;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Tests.Distributed;

/// <summary>
/// The gradient sum of two ranks, run on two threads over an in-process communicator, against the sum computed by hand:
/// dense parameters, a row table whose ranks touch different rows, parameters only one rank has a gradient for.
/// </summary>
public class GradientAllReduceTests
{
    [Fact]
    public void TwoRanksSumTheirScaledGradientsRowTablesIncluded()
    {
        int rows = GradientAllReduce.RowTableMinimum + 3;
        Tensor[] Parameters(int rank)
        {
            var dense = new Condense.Nn.Parameter(new float[12], 3, 4) { Grad = Tensor.Uniform(new Rng(100 + (ulong)rank), -1f, 1f, 3, 4) };
            var table = new Condense.Nn.Parameter(new float[rows * 2], rows, 2) { Grad = Tensor.Zeros(rows, 2) };
            foreach (int r in rank == 0 ? new[] { 0, 5, rows - 1 } : new[] { 5, 7 }) table.Grad!.Data[r * 2] = 1f + r + rank;
            var onlyRankOne = new Condense.Nn.Parameter(new float[2], 2) { Grad = rank == 1 ? new Tensor([3f, 4f], 2) : null };
            var none = new Condense.Nn.Parameter(new float[2], 2);
            return [dense, table, onlyRankOne, none];
        }
        var ranks = new[] { Parameters(0), Parameters(1) };
        float[] shares = [0.25f, 0.75f];
        var expected = ranks[0].Select((p, i) => p.Grad is null && ranks[1][i].Grad is null ? null
            : Enumerable.Range(0, p.Size).Select(k => (p.Grad?.Data[k] ?? 0f) * shares[0] + (ranks[1][i].Grad?.Data[k] ?? 0f) * shares[1]).ToArray()).ToList();
        var sums = new float[2][];
        var pair = ThreadPair.Create();
        Parallel.For(0, 2, rank =>
        {
            Span<float> mine = [rank + 1f];
            GradientAllReduce.Run(ranks[rank], shares[rank], mine, pair[rank]);
            sums[rank] = mine.ToArray();
        });
        for (int rank = 0; rank < 2; rank++)
        {
            Assert.Equal([3f], sums[rank]);
            for (int i = 0; i < expected.Count; i++)
            {
                if (expected[i] is null) { Assert.Null(ranks[rank][i].Grad); continue; }
                Assert.Equal(expected[i]!, ranks[rank][i].Grad!.Data);
            }
        }
    }

    // Two communicators of one process, for two threads: each all-reduce swaps the ranks' arrays at a barrier.
    private sealed class ThreadPair(int rank, ThreadPair.Shared shared) : Communicator
    {
        public sealed class Shared
        {
            public readonly Barrier Barrier = new(2);
            public readonly Array?[] Deposits = new Array?[2];
        }

        public static ThreadPair[] Create()
        {
            var shared = new Shared();
            return [new ThreadPair(0, shared), new ThreadPair(1, shared)];
        }

        public override int Rank => rank;
        public override int Size => 2;
        public override void AllReduce(Span<float> values, ReduceOp op = ReduceOp.Sum) => Exchange(values, op, (a, b) => a + b, MathF.Max, MathF.Min);
        public override void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum) => Exchange(values, op, (a, b) => a + b, Math.Max, Math.Min);
        public override void AllReduce(Span<long> values, ReduceOp op = ReduceOp.Sum) => Exchange(values, op, (a, b) => a + b, Math.Max, Math.Min);
        public override void Broadcast(Span<byte> bytes, int root = 0)
        {
            shared.Deposits[rank] = bytes.ToArray();
            shared.Barrier.SignalAndWait();
            ((byte[])shared.Deposits[root]!).CopyTo(bytes);
            shared.Barrier.SignalAndWait();
        }
        public override void ReportFailure(string message) => throw new InvalidOperationException(message);
        public override void Abort(int exitCode) => throw new InvalidOperationException("abort");
        public override void Finish() { }

        private void Exchange<T>(Span<T> values, ReduceOp op, Func<T, T, T> sum, Func<T, T, T> max, Func<T, T, T> min)
        {
            shared.Deposits[rank] = values.ToArray();
            shared.Barrier.SignalAndWait();
            var mine = (T[])shared.Deposits[rank]!;
            var other = (T[])shared.Deposits[1 - rank]!;
            Assert.Equal(mine.Length, other.Length);
            var reduce = op switch { ReduceOp.Max => max, ReduceOp.Min => min, _ => sum };
            // Rank 0's value first, as MPI would for a commutative operation on two ranks.
            for (int i = 0; i < values.Length; i++) values[i] = rank == 0 ? reduce(mine[i], other[i]) : reduce(other[i], mine[i]);
            shared.Barrier.SignalAndWait();
        }
    }
}
