using Condense.Data;
using Condense.Distributed;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Tests.Distributed;

/// <summary>The single-process parts of data parallelism: shards, fingerprints, the one-process communicator.</summary>
public class CommunicatorTests
{
    [Fact]
    public void ShardsCoverEveryItemOnceInRankOrderAndDifferByAtMostOne()
    {
        for (int size = 1; size <= 7; size++)
            for (int count = 0; count <= 40; count++)
            {
                var seen = new List<int>();
                var lengths = new List<int>();
                for (int rank = 0; rank < size; rank++)
                {
                    var (start, length) = Communicator.Shard(count, rank, size);
                    Assert.Equal(seen.Count, start);
                    seen.AddRange(Enumerable.Range(start, length));
                    lengths.Add(length);
                }
                Assert.Equal(Enumerable.Range(0, count), seen);
                Assert.True(lengths.Max() - lengths.Min() <= 1, $"count {count}, size {size}: {string.Join(",", lengths)}");
            }
    }

    [Fact]
    public void ShardRefusesARankOutsideTheRun()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Communicator.Shard(10, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Communicator.Shard(10, 0, 0));
    }

    [Fact]
    public void FingerprintsTellOneBitAndTheLengthApart()
    {
        var values = Enumerable.Range(0, 1001).Select(i => MathF.Sin(i)).ToArray();
        ulong a = Fingerprint.Add(Fingerprint.Seed, values);
        Assert.Equal(a, Fingerprint.Add(Fingerprint.Seed, (float[])values.Clone()));
        var flipped = (float[])values.Clone();
        flipped[777] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(flipped[777]) ^ 1);
        Assert.NotEqual(a, Fingerprint.Add(Fingerprint.Seed, flipped));
        Assert.NotEqual(a, Fingerprint.Add(Fingerprint.Seed, values.AsSpan(0, 1000)));
        Assert.NotEqual(Fingerprint.Add(Fingerprint.Seed, new byte[] { 0 }), Fingerprint.Add(Fingerprint.Seed, new byte[] { 0, 0 }));
    }

    [Fact]
    public void OneProcessCollectivesReturnTheirInput()
    {
        var world = SingleProcess.Instance;
        Assert.Equal((0, 1, true, false), (world.Rank, world.Size, world.IsRoot, world.IsDistributed));
        float[] floats = [1f, -2f, float.NaN];
        world.AllReduce(floats, ReduceOp.Max);
        Assert.Equal([1f, -2f, float.NaN], floats);
        long[] longs = [3, 4];
        world.AllReduce(longs);
        Assert.Equal([3L, 4L], longs);
        world.Barrier();
        world.CheckSame("model", 42);
        Assert.True(Enumerable.Range(0, 5).All(world.Owns));
    }

    [Fact]
    public void AloneGivesASingleProcessAndRestoresTheRun()
    {
        var before = World.Current;
        using (World.Alone()) Assert.Same(SingleProcess.Instance, World.Current);
        Assert.Same(before, World.Current);
    }

    [Fact]
    public void OneProcessTakesTheWholeBatchAndKeepsItsGradients()
    {
        var batch = new Batch(new Tensor([1f, 2f, 3f, 4f, 5f, 6f], 3, 2), [0, 1, 2], [7, 8, 9]);
        Assert.Equal(batch, DataParallel.Shard(batch, SingleProcess.Instance));
        var p = new Condense.Nn.Parameter([1f, 2f], 2) { Grad = new Tensor([0.5f, -0.5f], 2) };
        Span<float> sums = [3f];
        DataParallel.AllReduceGradients([p], 1f, sums, SingleProcess.Instance);
        Assert.Equal([0.5f, -0.5f], p.Grad!.Data);
        Assert.Equal(3f, sums[0]);
    }
}
