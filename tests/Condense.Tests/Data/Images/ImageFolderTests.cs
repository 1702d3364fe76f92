// Folders of images: class sub-folders give labels, anything else is unlabelled; bad files are one-line errors or
// skipped on request; the shipped photos load in listing order, the same as decoding each file alone.
using Condense.Data.Images;

namespace Condense.Tests.Data.Images;

public class ImageFolderTests
{
    private static string Photos(string part) => Path.Combine(TestFiles.RepoRoot(), "data", "images", part);

    [Fact]
    public void ClassSubFoldersAreLabelsInOrdinalOrder()
    {
        using var tmp = new TempDir();
        TestImages.SolidPng(tmp.File("cat/b.png"));
        TestImages.SolidPng(tmp.File("cat/a.PNG"));
        TestImages.SolidPng(tmp.File("Zebra/z.png"));
        TestImages.SolidPng(tmp.File("dog/deep/inside.png"));
        TestImages.SolidPng(tmp.File("dog/c.png"));
        Directory.CreateDirectory(tmp.File("empty"));
        File.WriteAllText(tmp.File("cat/notes.txt"), "not an image");
        File.WriteAllText(tmp.File("README.md"), "not an image either");

        var listing = ImageFolder.Scan(tmp.Path);
        Assert.Equal(["Zebra", "cat", "dog", "empty"], listing.ClassNames);
        Assert.Equal(["Zebra/z.png", "cat/a.PNG", "cat/b.png", "dog/c.png", "dog/deep/inside.png"], Relative(tmp, listing.Files));
        Assert.Equal([0, 1, 1, 2, 2], listing.Labels!);
    }

    [Fact]
    public void ImagesAtTheTopMakeTheFolderUnlabelledAndRecursive()
    {
        using var tmp = new TempDir();
        TestImages.SolidPng(tmp.File("top.png"));
        TestImages.SolidPng(tmp.File("cat/a.png"));
        TestImages.SolidPng(tmp.File("cat/more/b.png"));
        TestImages.SolidPng(tmp.File(".hidden/c.png"));
        TestImages.SolidPng(tmp.File("._resource-fork.png"));

        var listing = ImageFolder.Scan(tmp.Path);
        Assert.Null(listing.Labels);
        Assert.Empty(listing.ClassNames);
        Assert.Equal(["cat/a.png", "cat/more/b.png", "top.png"], Relative(tmp, listing.Files));

        var data = ImageFolder.Load(tmp.Path, TestImages.Raw(4, 4));
        Assert.Null(data.Dataset.Labels);
        Assert.Equal(3, data.Dataset.Count);
        Assert.Equal(Path.GetFileName(tmp.Path), data.Dataset.Name);
        // Why, in words: the folder's own image beside a class sub-folder (torchvision would leave it out).
        Assert.Equal($"{Path.GetFileName(tmp.Path)} has 1 image(s) of its own beside its sub-folders; a labelled folder holds its images only "
            + "in one sub-folder per class", ImageFolder.WhyUnlabelled(tmp.Path));
        File.Delete(tmp.File("cat/a.png"));
        File.Delete(tmp.File("cat/more/b.png"));
        Assert.Equal("no class sub-folders", ImageFolder.WhyUnlabelled(tmp.Path));
        File.Delete(tmp.File("top.png"));
        TestImages.SolidPng(tmp.File("cat/a.png"));
        Assert.Null(ImageFolder.WhyUnlabelled(tmp.Path));
    }

    [Fact]
    public void TorchvisionsImageExtensionsAreReadInAnyCase()
    {
        // torchvision's IMG_EXTENSIONS beyond the web formats: TIFF and the PNM family, and TGA, which ImageSharp also reads.
        using var tmp = new TempDir();
        string[] names = ["a.TIFF", "b.tif", "c.PPM", "d.pgm", "e.tga", "f.JPG"];
        foreach (string name in names) TestImages.SolidPng(tmp.File(name));
        File.WriteAllText(tmp.File("notes.txt"), "not an image");
        Assert.Equal(names, Relative(tmp, ImageFolder.Scan(tmp.Path).Files));
        var data = ImageFolder.Load(tmp.Path, TestImages.Raw(4, 4));
        Assert.Equal(names.Length, data.Dataset.Count);
        // Every format but JPEG's and PGM's (gray) keeps the solid colour exactly.
        foreach (int i in new[] { 0, 1, 2, 4 }) Assert.Equal([10f, 20f, 30f], data.Dataset.Features.AsSpan(i * 48, 48).ToArray().Where((_, k) => k % 16 == 0));
    }

    [Fact]
    public void FoldersWithoutImagesAreRefusedInOneLine()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("notes.txt"), "x");
        Directory.CreateDirectory(tmp.File("sub"));
        var none = Assert.Throws<CondenseException>(() => ImageFolder.Scan(tmp.Path));
        TestFiles.AssertOneLine(none, "no images", ".jpg", ".webp", tmp.Path);
        var missing = Assert.Throws<CondenseException>(() => ImageFolder.Scan(tmp.File("nope")));
        TestFiles.AssertOneLine(missing, "does not exist", "nope");
        var file = Assert.Throws<CondenseException>(() => ImageFolder.Load(tmp.File("notes.txt"), TestImages.Raw(4, 4)));
        TestFiles.AssertOneLine(file, "notes.txt is a file; expected a folder of images");
    }

    [Fact]
    public void ACorruptImageIsNamedOrSkipped()
    {
        using var tmp = new TempDir();
        TestImages.SolidPng(tmp.File("a.png"));
        File.WriteAllText(tmp.File("b.jpg"), "this is not a JPEG");
        File.WriteAllBytes(tmp.File("c.png"), File.ReadAllBytes(tmp.File("a.png"))[..20]);
        File.WriteAllBytes(tmp.File("d.gif"), []);
        TestImages.SolidPng(tmp.File("e.png"), r: 99);

        var e = Assert.Throws<InvalidFileException>(() => ImageFolder.Load(tmp.Path, TestImages.Raw(4, 4)));
        TestFiles.AssertOneLine(e, "b.jpg: cannot decode image");
        Assert.Equal(tmp.File("b.jpg"), e.FilePath);
        var truncated = Assert.Throws<InvalidFileException>(() => ImageFolder.Decode(tmp.File("c.png"), TestImages.Raw(4, 4)));
        TestFiles.AssertOneLine(truncated, "c.png: cannot decode image");

        int reported = 0;
        var data = ImageFolder.Load(tmp.Path, TestImages.Raw(4, 4), skipBadImages: true, new SyncProgress(_ => Interlocked.Increment(ref reported)));
        Assert.Equal([tmp.File("b.jpg"), tmp.File("c.png"), tmp.File("d.gif")], data.Skipped);
        Assert.Equal([tmp.File("a.png"), tmp.File("e.png")], data.Files);
        Assert.Equal(2, data.Dataset.Count);
        Assert.Equal(99f, data.Dataset.Features[48]); // e.png's first red value
        Assert.Equal(5, reported);
    }

    [Fact]
    public void AllImagesBadIsAnError()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("x.png"), "no");
        var e = Assert.Throws<CondenseException>(() => ImageFolder.Load(tmp.Path, TestImages.Raw(4, 4), skipBadImages: true));
        TestFiles.AssertOneLine(e, "none of the 1 images", "could be decoded", "x.png: cannot decode image");
    }

    [Theory]
    [InlineData("calibration", 65)]
    [InlineData("heldout", 78)]
    public void ShippedPhotosLoadInListingOrder(string part, int count)
    {
        var preprocessing = ImagePreprocessing.Preset("imagenet");
        var data = ImageFolder.Load(Photos(part), preprocessing);
        Assert.Equal(count, data.Dataset.Count);
        Assert.Equal([3, 224, 224], data.Dataset.SampleShape);
        Assert.Null(data.Dataset.Labels);
        Assert.Equal(part, data.Dataset.Name);
        Assert.Equal(data.Files.Order(StringComparer.Ordinal), data.Files);
        Assert.All(data.Dataset.Features, v => Assert.InRange(v, -2.2f, 2.7f)); // (0 − 0.485) / 0.229 … (1 − 0.406) / 0.225
        foreach (int k in new[] { 0, count / 2, count - 1 })
            Assert.Equal(ImageFolder.Decode(data.Files[k], preprocessing), data.Dataset.Features.AsSpan(k * 3 * 224 * 224, 3 * 224 * 224).ToArray());
    }

    private static List<string> Relative(TempDir tmp, IEnumerable<string> files) =>
        files.Select(f => Path.GetRelativePath(tmp.Path, f).Replace('\\', '/')).ToList();

    // Progress<T> posts to the thread pool; this one reports on the calling thread, so counts are complete on return.
    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
