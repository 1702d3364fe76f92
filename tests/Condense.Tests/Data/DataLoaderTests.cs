using Condense.Data;

namespace Condense.Tests.Data;

public class DataLoaderTests
{
    // 7 samples of 2 features: sample i is (i, 10 i), label i % 3.
    private static Dataset Seven(bool labelled = true) =>
        new(Enumerable.Range(0, 7).SelectMany(i => new float[] { i, 10 * i }).ToArray(),
            labelled ? Enumerable.Range(0, 7).Select(i => i % 3).ToArray() : null, [2]);

    [Fact]
    public void UnshuffledBatchesCoverTheDataInOrder()
    {
        var loader = new DataLoader(Seven(), batchSize: 3, shuffle: false, seed: 0);
        Assert.Equal(3, loader.BatchCount);
        var batches = loader.Epoch(0).ToList();
        Assert.Equal([3, 3, 1], batches.Select(b => b.Count));
        Assert.Equal([6], batches[2].Indices);
        Assert.Equal([1, 2], batches[2].Features.Shape);
        Assert.Equal([6f, 60f], batches[2].Features.Data);
        Assert.Equal([0, 1, 2], batches[0].Labels);
    }

    [Fact]
    public void DropLastSkipsTheShortBatch()
    {
        var loader = new DataLoader(Seven(), 3, shuffle: true, seed: 1, dropLast: true);
        Assert.Equal(2, loader.BatchCount);
        Assert.All(loader.Epoch(4), b => Assert.Equal(3, b.Count));
    }

    [Fact]
    public void ShuffleIsAPermutationDeterminedBySeedAndEpoch()
    {
        var data = new Dataset(new float[100], Enumerable.Range(0, 100).ToArray(), [1]);
        var a = new DataLoader(data, 7, shuffle: true, seed: 42);
        var b = new DataLoader(data, 7, shuffle: true, seed: 42);
        var c = new DataLoader(data, 7, shuffle: true, seed: 43);

        int[] Flat(DataLoader l, int epoch) => l.Epoch(epoch).SelectMany(x => x.Indices).ToArray();
        Assert.Equal(Enumerable.Range(0, 100), Flat(a, 0).Order());
        Assert.Equal(Flat(a, 3), Flat(b, 3));
        Assert.NotEqual(Flat(a, 0), Flat(a, 1));
        Assert.NotEqual(Flat(a, 0), Flat(c, 0));
        Assert.NotEqual(Enumerable.Range(0, 100), Flat(a, 0));
        // Labels follow their samples.
        Assert.All(a.Epoch(2), x => Assert.Equal(x.Indices, x.Labels));
    }

    [Fact]
    public void EachEnumerationIsTheNextEpoch()
    {
        var loader = new DataLoader(Seven(), 2, shuffle: true, seed: 9);
        var reference = new DataLoader(Seven(), 2, shuffle: true, seed: 9);
        foreach (int epoch in new[] { 0, 1, 2 })
        {
            var seen = loader.SelectMany(x => x.Indices).ToArray();
            Assert.Equal(reference.Order(epoch), seen);
        }
    }

    [Fact]
    public void UnlabelledDataGivesEmptyLabels()
    {
        var loader = new DataLoader(Seven(labelled: false), 4, shuffle: false, seed: 0);
        Assert.All(loader.Epoch(0), b => Assert.Empty(b.Labels));
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Seven(), 0, false, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(Seven(), 1, false, 0).Epoch(-1));
    }
}
