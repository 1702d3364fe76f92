using Condense.Data;

namespace Condense.Tests.Data;

public class MnistTests
{
    // Label histograms of the embedded subset, computed once with Python's gzip module.
    private static readonly int[] TrainCounts = [799, 913, 801, 813, 781, 689, 809, 865, 747, 783];
    private static readonly int[] TestCounts = [202, 214, 190, 219, 199, 174, 205, 205, 197, 195];
    private const long TrainPixelSum = 209_812_346, TestPixelSum = 52_334_254;

    [Fact]
    public void EmbeddedSubsetLoads()
    {
        var (train, test) = Mnist.LoadEmbedded();
        Check(train, 8000, TrainCounts, TrainPixelSum);
        Check(test, 2000, TestCounts, TestPixelSum);
        Assert.Equal("mnist-embedded/train", train.Name);
    }

    [Fact]
    public void EmbeddedSubsetIsLoadedOnce()
    {
        var first = Mnist.LoadEmbedded();
        var second = Mnist.LoadEmbedded();
        Assert.Same(first.Train, second.Train);
        Assert.Same(first.Test, second.Test);
    }

    [Fact]
    public void DirectoryOfGzippedFilesLoads()
    {
        using var tmp = new TempDir();
        foreach (string f in Directory.GetFiles(TestFiles.MnistDir))
            File.Copy(f, tmp.File(Path.GetFileName(f)));
        var (train, test) = Mnist.LoadDirectory(tmp.Path);
        Check(train, 8000, TrainCounts, TrainPixelSum);
        Check(test, 2000, TestCounts, TestPixelSum);
    }

    [Fact]
    public void DirectoryOfPlainFilesWithLeCunNamesLoads()
    {
        using var tmp = new TempDir();
        // LeCun's distribution calls the test set t10k-*; ours is test-*. Both must work.
        Gunzip("train-images-idx3-ubyte.gz", tmp.File("train-images-idx3-ubyte"));
        Gunzip("train-labels-idx1-ubyte.gz", tmp.File("train-labels-idx1-ubyte"));
        Gunzip("test-images-idx3-ubyte.gz", tmp.File("t10k-images-idx3-ubyte"));
        Gunzip("test-labels-idx1-ubyte.gz", tmp.File("t10k-labels-idx1-ubyte"));
        var (train, test) = Mnist.LoadDirectory(tmp.Path);
        Check(train, 8000, TrainCounts, TrainPixelSum);
        Check(test, 2000, TestCounts, TestPixelSum);
        var embedded = Mnist.LoadEmbedded();
        Assert.Equal(embedded.Train.Features, train.Features);
    }

    [Fact]
    public void MissingFolderIsNamed()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<CondenseException>(() => Mnist.LoadDirectory(tmp.File("nope")));
        TestFiles.AssertOneLine(e, "MNIST folder not found", "nope");
    }

    [Fact]
    public void MissingFileNamesWhatWasTried()
    {
        using var tmp = new TempDir();
        WriteSet(tmp, images: 3, labels: 3);
        File.Delete(tmp.File("t10k-labels-idx1-ubyte"));
        var e = Assert.Throws<CondenseException>(() => Mnist.LoadDirectory(tmp.Path));
        TestFiles.AssertOneLine(e, "has no test labels", "t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte.gz, test-labels-idx1-ubyte");
    }

    [Fact]
    public void CountMismatchNamesBothFiles()
    {
        using var tmp = new TempDir();
        WriteSet(tmp, images: 5, labels: 4);
        var e = Assert.Throws<CondenseException>(() => Mnist.LoadDirectory(tmp.Path));
        TestFiles.AssertOneLine(e, "train-images-idx3-ubyte has 5 images but train-labels-idx1-ubyte has 4 labels");
    }

    [Fact]
    public void WrongRankOrTypeIsRejected()
    {
        using var tmp = new TempDir();
        WriteSet(tmp, images: 2, labels: 2);
        IdxWriter.Write(tmp.File("train-labels-idx1-ubyte"), IdxArray.FromInts([1, 2], 2));
        var e = Assert.Throws<InvalidFileException>(() => Mnist.LoadDirectory(tmp.Path));
        TestFiles.AssertOneLine(e, "train-labels-idx1-ubyte: expected rank-1 unsigned-byte labels, found rank-1 Int");

        IdxWriter.Write(tmp.File("train-labels-idx1-ubyte"), IdxArray.FromBytes([1, 2], 2));
        IdxWriter.Write(tmp.File("train-images-idx3-ubyte"), IdxArray.FromBytes(new byte[8], 2, 4));
        e = Assert.Throws<InvalidFileException>(() => Mnist.LoadDirectory(tmp.Path));
        TestFiles.AssertOneLine(e, "train-images-idx3-ubyte: expected rank-3 unsigned-byte images, found rank-2 UByte");
    }

    [Fact]
    public void PixelsAreScaledExactly()
    {
        using var tmp = new TempDir();
        WriteSet(tmp, images: 1, labels: 1);
        IdxWriter.Write(tmp.File("train-images-idx3-ubyte"), IdxArray.FromBytes([0, 51, 255, 128], 1, 2, 2));
        var (train, _) = Mnist.LoadDirectory(tmp.Path);
        Assert.Equal([0f, 0.2f, 1f, 128 / 255f], train.Features);
        Assert.Equal([1, 2, 2], train.SampleShape);
    }

    private static void Check(Dataset data, int count, int[] labelCounts, long pixelSum)
    {
        Assert.Equal(count, data.Count);
        Assert.Equal([1, 28, 28], data.SampleShape);
        Assert.Equal(784, data.FeatureSize);
        Assert.Equal(10, data.NumClasses);
        var counts = new int[10];
        foreach (int l in data.Labels!) counts[l]++;
        Assert.Equal(labelCounts, counts);
        float min = float.MaxValue, max = float.MinValue;
        long sum = 0;
        foreach (float p in data.Features) { min = Math.Min(min, p); max = Math.Max(max, p); sum += (long)MathF.Round(p * 255); }
        Assert.Equal((0f, 1f, pixelSum), (min, max, sum));
    }

    private static void Gunzip(string name, string to) =>
        File.WriteAllBytes(to, TestFiles.Gunzip(Path.Combine(TestFiles.MnistDir, name)));

    // A tiny, valid four-file set with 2×2 images, to be broken one piece at a time.
    private static void WriteSet(TempDir tmp, int images, int labels)
    {
        foreach (string set in new[] { "train", "t10k" })
        {
            IdxWriter.Write(tmp.File($"{set}-images-idx3-ubyte"), IdxArray.FromBytes(new byte[images * 4], images, 2, 2));
            IdxWriter.Write(tmp.File($"{set}-labels-idx1-ubyte"), IdxArray.FromBytes(new byte[labels], labels));
        }
    }
}
