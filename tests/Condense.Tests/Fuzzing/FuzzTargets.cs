// The readers under fuzzing and their valid seed files: ONNX (PyTorch-exported fixtures and models Condense
// exports, float and QDQ), safetensors checkpoints (dense, pruned to bitmap and CSR form, int8 and int4
// quantized, weight-shared in codebook form), IDX (plain and gzipped), NPY and CSV written here; the later readers
// (images, text, vocabularies, sensitivity reports) are in FuzzTargets.Inputs.cs. Each read is what a command does
// with the file: models load and dry-run through ModelFile.Load.
using Condense.DeepCompression;
using Condense.Formats;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Fuzzing;

/// <summary>The fuzzed readers, with seeds built in a scratch folder.</summary>
public static partial class FuzzTargets
{
    /// <summary>The names accepted by <see cref="Create"/>.</summary>
    public static readonly string[] Names = ["onnx", "safetensors", "idx", "npy", "csv", "image", "text", "vocab", "tokenizer", "sensitivity"];

    /// <summary>The reader <paramref name="name"/>, its seeds written to and read back from <paramref name="scratch"/>.</summary>
    public static FuzzTarget Create(string name, string scratch) => name switch
    {
        "onnx" => new("onnx", ".onnx", OnnxSeeds(scratch), p => ModelFile.Load(p), FormatMutators.Onnx),
        "safetensors" => new("safetensors", ".safetensors", SafeTensorsSeeds(scratch), p => ModelFile.Load(p), FormatMutators.SafeTensors),
        "idx" => new("idx", ".idx", IdxSeeds(scratch), p => IdxReader.Read(p), FormatMutators.Idx),
        "npy" => new("npy", ".npy", NpySeeds(scratch), p => Npy.Read(p), FormatMutators.Npy),
        "csv" => new("csv", ".csv", CsvSeeds(scratch), p => CsvLoader.Load(p), FormatMutators.Csv),
        "image" => new("image", ".png", ImageSeeds(), ReadImage, FormatMutators.Image, ImageAllowance),
        "text" => new("text", ".txt", TextSeeds(), ReadText, FormatMutators.Text),
        "vocab" => new("vocab", ".txt", VocabularySeeds(), ReadVocabulary, FormatMutators.Vocabulary),
        "tokenizer" => new("tokenizer", ".json", TokenizerSeeds(), ReadVocabulary, FormatMutators.Json),
        "sensitivity" => new("sensitivity", ".json", SensitivitySeeds(), ReadSensitivity, FormatMutators.Json),
        _ => throw new ArgumentException($"unknown reader '{name}' (readers: {string.Join(", ", Names)})", nameof(name)),
    };

    private static GraphModule Mlp(string spec, int inputs) => new(GraphTracer.Trace(ModelSpec.Parse(spec).Build(7), [inputs]));

    private static Dataset Calibration(int features)
    {
        var rng = new Rng(3);
        var x = new float[32 * features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        return new Dataset(x, new int[32], [features]);
    }

    private static List<(string, byte[])> OnnxSeeds(string scratch)
    {
        var seeds = new List<(string, byte[])>
        {
            ("mlp:16-12-4.onnx", OnnxExporter.ToBytes(Mlp("mlp:16-12-4", 16).Graph)),
            ("qdq mlp:16-12-4.onnx", OnnxExporter.ToBytes(Quantizer.Quantize(Mlp("mlp:16-12-4", 16), Calibration(16), new QuantizeOptions()).Model.Graph)),
            ("lenet5,input=1x12x12.onnx", OnnxExporter.ToBytes(GraphTracer.Trace(ModelSpec.Parse("lenet5,input=1x12x12").Build(7), [1, 12, 12]))),
        };
        // The quantized forms the importer reads back: QOperator (QGemm), dynamic MatMulInteger, int4 QDQ and MatMulNBits.
        var mlp = Mlp("mlp:16-12-4", 16);
        var int8 = Quantizer.Quantize(mlp, Calibration(16), new QuantizeOptions()).Model.Graph;
        var dynamic = Quantizer.Quantize(mlp, null, new QuantizeOptions { Mode = QuantizationMode.Dynamic }).Model.Graph;
        var int4 = Quantizer.Quantize(mlp, null, new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 16 }).Model.Graph;
        seeds.Add(("qoperator mlp.onnx", OnnxExporter.ToBytes(OnnxExporter.Convert(int8, QuantizedOnnxFormat.QOperator))));
        seeds.Add(("dynamic qoperator mlp.onnx", OnnxExporter.ToBytes(OnnxExporter.Convert(dynamic, QuantizedOnnxFormat.QOperator))));
        seeds.Add(("int4 qdq mlp.onnx", OnnxExporter.ToBytes(int4)));
        seeds.Add(("matmulnbits mlp.onnx", OnnxExporter.ToBytes(OnnxExporter.Convert(int4, QuantizedOnnxFormat.MatMulNBits))));
        // The PyTorch exports are larger, so they are picked as often as the others but cost more per case.
        foreach (var fixture in new[] { "lenet5.onnx", "mlp128.onnx" })
            seeds.Add((fixture, File.ReadAllBytes(Path.Combine(FixtureDirectory(), fixture))));
        _ = scratch;
        return seeds;
    }

    private static List<(string, byte[])> SafeTensorsSeeds(string scratch)
    {
        var seeds = new List<(string, byte[])>();
        void Add(string name, ModelGraph graph, IReadOnlyCollection<string>? codebook = null)
        {
            string path = Path.Combine(scratch, "seed.safetensors");
            Checkpoint.Save(graph, path, codebook: codebook);
            seeds.Add((name, File.ReadAllBytes(path)));
        }
        Add("dense mlp", Mlp("mlp:16-12-4", 16).Graph);
        var pruned = Mlp("mlp:64-48-4", 64);
        var rng = new Rng(5);
        // The first weight 98 % zeros (CSR), the second 60 % (bitmap).
        foreach (var (name, zeros) in new[] { ("1.weight", 0.98), ("3.weight", 0.6) })
        {
            var w = pruned.Graph.Initializers[name].Data;
            for (int i = 0; i < w.Length; i++) if (rng.NextDouble() < zeros) w[i] = 0f;
        }
        Add("pruned mlp", pruned.Graph);
        Add("int8 qdq mlp", Quantizer.Quantize(Mlp("mlp:16-12-4", 16), Calibration(16), new QuantizeOptions()).Model.Graph);
        Add("int4 weight-only mlp", Quantizer.Quantize(Mlp("mlp:16-12-4", 16), null,
            new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4, BlockSize = 16 }).Model.Graph);
        var shared = Mlp("mlp:64-48-4", 64);
        var result = WeightSharing.Apply(shared, 3);
        Add("3-bit shared mlp", shared.Graph, result.Entries.Select(e => e.Target.Name).ToList());
        return seeds;
    }

    private static List<(string, byte[])> IdxSeeds(string scratch)
    {
        var seeds = new List<(string, byte[])>();
        var rng = new Rng(9);
        var images = new byte[5 * 4 * 4];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)rng.NextInt(256);
        foreach (var (name, array, gzip) in new[]
        {
            ("ubyte images", IdxArray.FromBytes(images, 5, 4, 4), false),
            ("int labels", IdxArray.FromInts([3, 1, 4, 1, 5], 5), false),
            ("float matrix", IdxArray.FromFloats([0.5f, -1f, 2f, 3.25f, 0f, 1e-3f], 3, 2), false),
            ("gzipped ubyte images", IdxArray.FromBytes(images, 5, 4, 4), true),
        })
        {
            string path = Path.Combine(scratch, "seed.idx");
            IdxWriter.Write(path, array, gzip);
            seeds.Add((name, File.ReadAllBytes(path)));
        }
        return seeds;
    }

    private static List<(string, byte[])> NpySeeds(string scratch)
    {
        var seeds = new List<(string, byte[])>();
        string path = Path.Combine(scratch, "seed.npy");
        Npy.Write(path, [0.5f, -1f, 2f, 3.25f, 0f, 1e-3f, 7f, 8f, 9f, 10f, 11f, 12f], [4, 3]);
        seeds.Add(("float32 4x3", File.ReadAllBytes(path)));
        Npy.Write(path, [3L, 1, 4, 1, 5], [5]);
        seeds.Add(("int64 5", File.ReadAllBytes(path)));
        Npy.Write(path, [1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
        seeds.Add(("uint8 2x2x2", File.ReadAllBytes(path)));
        seeds.Add(("labels16.npy", File.ReadAllBytes(Path.Combine(FixtureDirectory(), "labels16.npy"))));
        return seeds;
    }

    private static List<(string, byte[])> CsvSeeds(string scratch)
    {
        _ = scratch;
        return
        [
            ("with header", "label,a,b,c\n1,0.5,0.25,3\n0,1e-3,-2,4.5\n2,7,8,9\n"u8.ToArray()),
            ("without header", "3,0,0,255,128\n1,12,13,14,15\n"u8.ToArray()),
        ];
    }

    /// <summary>The ONNX fixtures: next to the test binaries, or found from the repository root for the bench.</summary>
    public static string FixtureDirectory()
    {
        string local = Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx");
        if (Directory.Exists(local)) return local;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Condense.Tests", "Fixtures", "onnx");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/Condense.Tests/Fixtures/onnx not found above " + AppContext.BaseDirectory);
    }
}
