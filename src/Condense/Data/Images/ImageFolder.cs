// A folder of photos as a Dataset. Labels follow torchvision's ImageFolder convention: a folder with no images of its
// own whose sub-folders hold images is one class per sub-folder; any other folder is unlabelled. Files decode in
// parallel, each into its own slot, so the result is the same for any thread count.
using System.Runtime.ExceptionServices;
using Condense.Tensors;

namespace Condense.Data.Images;

/// <summary>The image files of a folder in load order, with their class indices when the folder has class sub-folders.</summary>
/// <param name="Files">Full paths: class by class, each sorted by ordinal relative path (all files so sorted when unlabelled).</param>
/// <param name="Labels">The class index of each file, or null when the folder is unlabelled.</param>
/// <param name="ClassNames">The class sub-folders by ordinal name (index = label); empty when unlabelled.</param>
public sealed record ImageListing(IReadOnlyList<string> Files, IReadOnlyList<int>? Labels, IReadOnlyList<string> ClassNames);

/// <summary>The images of a folder, preprocessed.</summary>
/// <param name="Dataset">The samples (shape <see cref="ImagePreprocessing.SampleShape"/>) and labels, named after the folder.</param>
/// <param name="Files">The file of each sample, in order.</param>
/// <param name="ClassNames">The class names (index = label); empty when unlabelled.</param>
/// <param name="Skipped">The files left out because they could not be decoded (only when asked to skip them).</param>
public sealed record ImageData(Dataset Dataset, IReadOnlyList<string> Files, IReadOnlyList<string> ClassNames, IReadOnlyList<string> Skipped);

/// <summary>Reads folders of JPEG, PNG, BMP, GIF, WebP, TIFF, PBM/PGM/PPM and TGA images (SixLabors.ImageSharp decodes them).</summary>
public static class ImageFolder
{
    /// <summary>
    /// The most pixels an image may have, before and after its resize: PIL's decompression-bomb limit (twice
    /// Image.MAX_IMAGE_PIXELS), so an image torchvision's loader would refuse is refused here too, before a small
    /// corrupt or hostile file makes the decoder allocate gigabytes for the size its header claims.
    /// </summary>
    public const long MaxPixels = 2 * 89_478_485;

    /// <summary>
    /// The file extensions taken as images (compared ignoring case); other files are ignored. torchvision's IMG_EXTENSIONS
    /// (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp), GIF, and the other formats ImageSharp reads (.pbm, .tga).
    /// </summary>
    public static IReadOnlyList<string> Extensions { get; } =
        [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".tga"];

    // new EnumerationOptions() skips hidden entries (names starting with '.' on Unix): thumbnails, macOS "._" files
    // and checkpoint folders are not data. Inaccessible folders are skipped as well.
    private static readonly EnumerationOptions s_topLevel = new();
    private static readonly EnumerationOptions s_recursive = new() { RecurseSubdirectories = true };

    /// <summary>
    /// Lists the images under <paramref name="directory"/>. When it has no image files of its own and at least one
    /// sub-folder holds images, each sub-folder (by ordinal name) is a class and the images anywhere inside it get that
    /// class's index (a sub-folder without images keeps its index, as in torchvision's class_to_idx); otherwise the
    /// images anywhere below it are unlabelled. Hidden files and folders are skipped.
    /// </summary>
    public static ImageListing Scan(string directory)
    {
        var (listing, _) = ScanWithReason(directory);
        return listing;
    }

    /// <summary>
    /// Why the images under <paramref name="directory"/> carry no labels ("no class sub-folders", or its own images beside
    /// class sub-folders, which torchvision would leave out and Condense reads unlabelled); null when they are labelled.
    /// </summary>
    public static string? WhyUnlabelled(string directory) => ScanWithReason(directory).Reason;

    private static (ImageListing Listing, string? Reason) ScanWithReason(string directory)
    {
        string full = CheckFolder(directory);
        int own = Directory.EnumerateFiles(full, "*", s_topLevel).Count(IsImage);
        bool hasOwnImages = own > 0;
        var classFolders = Directory.EnumerateDirectories(full, "*", s_topLevel).Order(StringComparer.Ordinal).ToList();
        List<List<string>> perClass = hasOwnImages ? [] : classFolders.Select(ImagesBelow).ToList();
        if (perClass.Any(files => files.Count > 0))
        {
            var files = new List<string>();
            var labels = new List<int>();
            for (int c = 0; c < perClass.Count; c++)
            {
                files.AddRange(perClass[c]);
                labels.AddRange(Enumerable.Repeat(c, perClass[c].Count));
            }
            return (new ImageListing(files, labels, classFolders.Select(folder => Path.GetFileName(folder)).ToList()), null);
        }
        var all = ImagesBelow(full);
        if (all.Count == 0)
            throw new CondenseException($"no images ({string.Join(", ", Extensions)}) in {full}");
        // Images below the top level are in sub-folders.
        string reason = own > 0 && all.Count > own
            ? $"{Path.GetFileName(full)} has {own} image(s) of its own beside its sub-folders; a labelled folder holds its images only in "
                + "one sub-folder per class"
            : "no class sub-folders";
        return (new ImageListing(all, null, []), reason);
    }

    /// <summary>
    /// Loads every image of <paramref name="directory"/> (as <see cref="Scan"/> lists them) through
    /// <paramref name="preprocessing"/>. A file that cannot be decoded is an <see cref="InvalidFileException"/> naming it,
    /// unless <paramref name="skipBadImages"/>: then it is left out and listed in <see cref="ImageData.Skipped"/>.
    /// <paramref name="progress"/> gets the number of images done after each one (from worker threads).
    /// </summary>
    public static ImageData Load(string directory, ImagePreprocessing preprocessing, bool skipBadImages = false, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(preprocessing);
        preprocessing.Validate();
        var listing = Scan(directory);
        int count = listing.Files.Count, size = Shape.Size(preprocessing.SampleShape);
        if ((long)count * size > Array.MaxLength)
            throw new CondenseException(
                $"{count} images of shape {Shape.Format(preprocessing.SampleShape)} are more than one data set holds ({Array.MaxLength} floats)");
        // Each file decodes into its own slot of the features, so the order is the listing's for any thread count.
        var features = new float[count * size];
        var errors = new InvalidFileException?[count];
        int done = 0;
        // A failing file breaks the loop: Break still runs every file before it, so without skipping, the error
        // reported is the first bad file in listing order whatever the thread timing.
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (i, loop) =>
        {
            try
            {
                ImageDecoder.DecodeInto(listing.Files[i], preprocessing, features.AsSpan(i * size, size));
            }
            catch (InvalidFileException e)
            {
                errors[i] = e;
                if (!skipBadImages) loop.Break();
            }
            progress?.Report(Interlocked.Increment(ref done));
        });
        if (!skipBadImages && errors.FirstOrDefault(e => e is not null) is { } first)
            ExceptionDispatchInfo.Throw(first);

        var kept = Enumerable.Range(0, count).Where(i => errors[i] is null).ToList();
        if (kept.Count == 0)
            throw new CondenseException($"none of the {count} images in {Path.GetFullPath(directory)} could be decoded; the first: {errors[0]!.Message}");
        if (kept.Count < count)
        {
            // Move the decoded samples up over the skipped ones, then drop the tail.
            for (int k = 0; k < kept.Count; k++)
                features.AsSpan(kept[k] * size, size).CopyTo(features.AsSpan(k * size, size));
            Array.Resize(ref features, kept.Count * size);
        }
        int[]? labels = listing.Labels is null ? null : kept.Select(i => listing.Labels[i]).ToArray();
        var dataset = new Dataset(features, labels, preprocessing.SampleShape, FolderName(directory));
        var files = kept.Select(i => listing.Files[i]).ToList();
        var skipped = Enumerable.Range(0, count).Where(i => errors[i] is not null).Select(i => listing.Files[i]).ToList();
        return new ImageData(dataset, files, listing.ClassNames, skipped);
    }

    /// <summary>One image file, preprocessed: <see cref="ImagePreprocessing.SampleShape"/> floats.</summary>
    public static float[] Decode(string file, ImagePreprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(preprocessing);
        preprocessing.Validate();
        var sample = new float[Shape.Size(preprocessing.SampleShape)];
        ImageDecoder.DecodeInto(file, preprocessing, sample);
        return sample;
    }

    private static string CheckFolder(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string full = Path.GetFullPath(directory);
        if (File.Exists(full))
            throw new CondenseException($"{full} is a file; expected a folder of images");
        if (!Directory.Exists(full))
            throw new CondenseException($"image folder {full} does not exist");
        return full;
    }

    // The images anywhere below folder, sorted by ordinal relative path ('/'-separated on every platform).
    private static List<string> ImagesBelow(string folder) =>
        Directory.EnumerateFiles(folder, "*", s_recursive)
            .Where(IsImage)
            .Select(path => (Path: path, Key: Path.GetRelativePath(folder, path).Replace('\\', '/')))
            .OrderBy(file => file.Key, StringComparer.Ordinal)
            .Select(file => file.Path)
            .ToList();

    private static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    private static string FolderName(string directory) =>
        Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
}
