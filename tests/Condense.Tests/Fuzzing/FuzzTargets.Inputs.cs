// The readers added after the first five, with their valid seeds: image files (PNG, JPEG, BMP, GIF, WebP, TIFF, TGA
// and PBM written by ImageSharp, each decoded as a gray and as an ImageNet-preset colour sample, the two pixel paths
// an image folder's files take), text files of passages (tokenized as the text commands do), WordPiece vocabularies
// (then used to tokenize) and sensitivity reports (then spread over a budget, as prune --sensitivity does).
using Condense.Data.Images;
using Condense.Data.Text;
using Condense.Pruning;
using Condense.Reports;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Pbm;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace Condense.Fuzzing;

public static partial class FuzzTargets
{
    private static readonly ImagePreprocessing Gray = new() { Channels = ImageChannels.Gray, Height = 8, Width = 8 };
    private static readonly ImagePreprocessing Color = ImagePreprocessing.Preset("imagenet", 8, 8);

    // From a few bytes, an image decodes to a raster of up to ImageFolder.MaxPixels pixels (4 bytes each at most), and
    // ImageSharp 2.1's WebP lossless decoder sizes its Huffman tables by the group count the header claims (16 bits: up to
    // 1 GiB, found by this fuzzer with a 645-byte file; a fault of the decoder, bounded, not fixable from here).
    private const long ImageAllowance = 4 * ImageFolder.MaxPixels + (1L << 30);

    private const string Vocabulary = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nmodel\nis\nsmall\n##er\n##s\nfast\n.\n,\né\n";

    private static readonly Lazy<TextTokenizer> Tokenizer = new(() => TextTokenizer.FromText(Vocabulary, "vocab.txt"));

    private static void ReadImage(string path)
    {
        ImageFolder.Decode(path, Gray);
        ImageFolder.Decode(path, Color);
    }

    private static void ReadText(string path) => Tokenizer.Value.Batch(TextPassages.Read(path), maxLength: 32);

    private static void ReadVocabulary(string path) =>
        TextTokenizer.FromVocabulary(path).Batch(["The smaller model is fast, é.", "UNKNOWN words ##s"], maxLength: 16);

    private static void ReadSensitivity(string path)
    {
        var report = SensitivityFile.Read(path);
        // A budget the sweep cannot reach is the command's one-line error about the option, not about the file.
        try { Sensitivity.AllocateBudget(report, 0.5); }
        catch (CondenseException e) when (e is not InvalidFileException && !e.Message.Contains('\n')) { }
    }

    private static List<(string, byte[])> ImageSeeds()
    {
        using var image = new Image<Rgb24>(12, 10);
        var rng = new Random(11);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++) image[x, y] = new Rgb24((byte)rng.Next(256), (byte)(20 * x), (byte)(25 * y));
        var encoders = new (string Name, IImageEncoder Encoder)[]
        {
            ("png", new PngEncoder()), ("jpeg", new JpegEncoder { Quality = 90 }), ("bmp", new BmpEncoder()), ("gif", new GifEncoder()),
            ("webp lossless", new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }), ("webp lossy", new WebpEncoder()),
            ("tiff", new TiffEncoder()), ("tga", new TgaEncoder()), ("pbm", new PbmEncoder()),
        };
        var seeds = new List<(string, byte[])>();
        foreach (var (name, encoder) in encoders)
        {
            using var buffer = new MemoryStream();
            image.Save(buffer, encoder);
            seeds.Add((name, buffer.ToArray()));
        }
        return seeds;
    }

    private static List<(string, byte[])> TextSeeds() =>
    [
        ("passages", "The model is small.\nthe smaller model is fast\n\n  Fast, faster, fastest.  \n"u8.ToArray()),
        ("bom and crlf", "\uFEFFé is unknown here\r\nThe model\r\n"u8.ToArray()),
        ("one long line", System.Text.Encoding.UTF8.GetBytes(string.Join(' ', Enumerable.Repeat("the smaller models", 40)) + "\n")),
    ];

    private static List<(string, byte[])> VocabularySeeds() =>
    [
        ("uncased", System.Text.Encoding.UTF8.GetBytes(Vocabulary)),
        ("cased, crlf", System.Text.Encoding.UTF8.GetBytes(Vocabulary.Replace("the\n", "The\nthe\n").Replace("\n", "\r\n"))),
    ];

    // Hugging Face's tokenizer.json: a byte-level BPE (the 300-token fixture's tables, merges as strings and as pairs) and a WordPiece.
    private static List<(string, byte[])> TokenizerSeeds()
    {
        var vocabulary = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(
            File.ReadAllText(Path.Combine(FixtureDirectory(), "bpe300-vocab.json")))!;
        var merges = File.ReadAllLines(Path.Combine(FixtureDirectory(), "bpe300-merges.txt")).Skip(1).Where(l => l.Length > 0).ToList();
        object template = new
        {
            type = "TemplateProcessing",
            single = new object[] { new { SpecialToken = new { id = "<|endoftext|>", type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } } },
        };
        byte[] Bpe(object list, object? post = null) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new
        {
            model = new { type = "BPE", vocab = vocabulary, merges = list },
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, use_regex = true },
            post_processor = post,
        });
        var words = Vocabulary.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i);
        return
        [
            ("bpe, merges as strings", Bpe(merges)),
            ("bpe, merges as pairs", Bpe(merges.Select(m => m.Split(' ')).ToList())),
            ("bpe, a template post-processor", Bpe(merges, template)),
            ("bpe, roberta post-processor", Bpe(merges, new
            {
                type = "RobertaProcessing", cls = new object[] { "<|endoftext|>", 299 }, sep = new object[] { "<|endoftext|>", 299 },
            })),
            ("wordpiece", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { model = new { type = "WordPiece", vocab = words } })),
        ];
    }

    private static List<(string, byte[])> SensitivitySeeds()
    {
        double[] swept = [0, 0.25, 0.5, 0.75, 0.9];
        SensitivityRow Row(string tensor, long parameters, params float[] accuracies) => new(tensor, parameters, swept, accuracies);
        var report = new SensitivityReport(0.97f, [Row("1.weight", 235200, 0.97f, 0.97f, 0.96f, 0.9f, 0.5f),
            Row("3.weight", 30000, 0.97f, 0.96f, 0.95f, 0.7f, 0.2f), Row("5.weight", 1000, 0.97f, 0.9f, 0.6f, 0.3f, 0.1f)], 2000)
        { ModelSha256 = "7c5b8ec2a76f63696f4665fc8b8dc35566bed5cde8df475105f0c9df1b37e52c" };
        return
        [
            ("three tensors", System.Text.Encoding.UTF8.GetBytes(ReportJson.Serialize(report))),
            ("no fingerprint, indented", System.Text.Encoding.UTF8.GetBytes(
                System.Text.Json.JsonSerializer.Serialize(report with { ModelSha256 = null }, ReportJson.Indented))),
        ];
    }
}
