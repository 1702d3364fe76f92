// Loads MNIST-style data sets (MNIST, Fashion-MNIST, KMNIST: four IDX files under standard names)
// from a folder, or the 8000/2000-image MNIST subset embedded in this assembly. Images become floats
// in [0, 1] with sample shape [1, rows, cols], ready for Conv2d.
using Condense.Tensors;

namespace Condense.Data;

/// <summary>Loaders for MNIST-format data sets.</summary>
public static class Mnist
{
    private const string ResourcePrefix = "Condense.Data.Mnist.";

    // The embedded subset is decoded once per process; Datasets are treated as read-only, so sharing is safe.
    private static readonly Lazy<(Dataset Train, Dataset Test)> s_embedded = new(LoadFromResources);

    // Base names as distributed: LeCun's site uses t10k-, the npm/Kaggle copies test-; some archives
    // unpack to a dot before "idx". Each is tried plain, then gzipped.
    private static readonly string[] TrainImages = ["train-images-idx3-ubyte", "train-images.idx3-ubyte"];
    private static readonly string[] TrainLabels = ["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"];
    private static readonly string[] TestImages = ["t10k-images-idx3-ubyte", "test-images-idx3-ubyte", "t10k-images.idx3-ubyte", "test-images.idx3-ubyte"];
    private static readonly string[] TestLabels = ["t10k-labels-idx1-ubyte", "test-labels-idx1-ubyte", "t10k-labels.idx1-ubyte", "test-labels.idx1-ubyte"];

    /// <summary>
    /// Loads the training and test sets from <paramref name="dir"/>, which must hold the four standard
    /// MNIST files (plain or .gz), e.g. a download of MNIST or Fashion-MNIST.
    /// </summary>
    public static (Dataset Train, Dataset Test) LoadDirectory(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        string full = Path.GetFullPath(dir);
        if (!Directory.Exists(full))
            throw new CondenseException($"MNIST folder not found: {full}");
        string name = Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));

        string trainImages = Find(full, TrainImages, "training images");
        string trainLabels = Find(full, TrainLabels, "training labels");
        string testImages = Find(full, TestImages, "test images");
        string testLabels = Find(full, TestLabels, "test labels");

        var train = Build(IdxReader.Read(trainImages), trainImages, IdxReader.Read(trainLabels), trainLabels, $"{name}/train");
        var test = Build(IdxReader.Read(testImages), testImages, IdxReader.Read(testLabels), testLabels, $"{name}/test");
        CheckSameImageSize(train, trainImages, test, testImages);
        return (train, test);
    }

    /// <summary>
    /// The MNIST subset shipped inside the library (8000 training and 2000 test images). Loaded once;
    /// later calls return the same Dataset instances, which must not be modified.
    /// </summary>
    public static (Dataset Train, Dataset Test) LoadEmbedded() => s_embedded.Value;

    private static (Dataset, Dataset) LoadFromResources()
    {
        var train = Build(ReadResource("train-images-idx3-ubyte.gz"), "train-images-idx3-ubyte.gz",
            ReadResource("train-labels-idx1-ubyte.gz"), "train-labels-idx1-ubyte.gz", "mnist-embedded/train");
        var test = Build(ReadResource("test-images-idx3-ubyte.gz"), "test-images-idx3-ubyte.gz",
            ReadResource("test-labels-idx1-ubyte.gz"), "test-labels-idx1-ubyte.gz", "mnist-embedded/test");
        return (train, test);
    }

    private static IdxArray ReadResource(string file)
    {
        // A missing resource is a broken build, not bad input, hence not a CondenseException.
        using var stream = typeof(Mnist).Assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new InvalidOperationException($"embedded resource {ResourcePrefix}{file} is missing from {typeof(Mnist).Assembly.GetName().Name}");
        return IdxReader.Read(stream, file);
    }

    private static string Find(string dir, string[] baseNames, string what)
    {
        var tried = new List<string>();
        foreach (string baseName in baseNames)
            foreach (string candidate in new[] { baseName, baseName + ".gz" })
            {
                string path = Path.Combine(dir, candidate);
                if (File.Exists(path)) return path;
                tried.Add(candidate);
            }
        throw new CondenseException($"MNIST folder {dir} has no {what}: tried {string.Join(", ", tried)}");
    }

    private static Dataset Build(IdxArray images, string imagesPath, IdxArray labels, string labelsPath, string name)
    {
        if (images.Type != IdxDataType.UByte || images.Dims.Length != 3)
            throw new InvalidFileException(imagesPath, $"expected rank-3 unsigned-byte images, found rank-{images.Dims.Length} {images.Type}");
        if (labels.Type != IdxDataType.UByte || labels.Dims.Length != 1)
            throw new InvalidFileException(labelsPath, $"expected rank-1 unsigned-byte labels, found rank-{labels.Dims.Length} {labels.Type}");
        int count = images.Dims[0], rows = images.Dims[1], cols = images.Dims[2];
        if (labels.Dims[0] != count)
            throw new CondenseException(
                $"{Path.GetFileName(imagesPath)} has {count} images but {Path.GetFileName(labelsPath)} has {labels.Dims[0]} labels");
        if (rows == 0 || cols == 0)
            throw new InvalidFileException(imagesPath, $"images of size {rows}×{cols} are empty");
        return new Dataset(ToUnitRange(images.AsBytes()), labels.ToInt(), [1, rows, cols], name);
    }

    // Divides by 255 through a table: exact (255 maps to 1.0, which 255 * (1/255f) need not) and fast.
    private static float[] ToUnitRange(byte[] pixels)
    {
        Span<float> table = stackalloc float[256];
        for (int i = 0; i < 256; i++) table[i] = i / 255f;
        var result = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) result[i] = table[pixels[i]];
        return result;
    }

    private static void CheckSameImageSize(Dataset train, string trainPath, Dataset test, string testPath)
    {
        if (!Shape.Equal(train.SampleShape, test.SampleShape))
            throw new CondenseException(
                $"{Path.GetFileName(trainPath)} has images of shape {Shape.Format(train.SampleShape)} "
                + $"but {Path.GetFileName(testPath)} has {Shape.Format(test.SampleShape)}");
    }
}
